"""The message templates Lotsa ships: welcome, weekly feedback, a reminder to
continue and closing, in Swedish, English, Arabic and Persian.

They are offered to every clinician as built-in templates and copied into each
care unit by the demo seed, where the unit can change them. The placeholders
are those of ``services.PLACEHOLDERS``.
"""

from __future__ import annotations

# kind -> locale -> (name, body)
BUILT_IN: dict[str, dict[str, tuple[str, str]]] = {
    "welcome": {
        "sv": ("Välkommen", "Hej {förnamn}!\n\nVälkommen till programmet. Jag är din behandlare på {vårdenhet}. "
               "Börja med modulen {modul} när det passar dig, och skriv gärna till mig här om du undrar något.\n\n"
               "Vänliga hälsningar\n{behandlare}"),
        "en": ("Welcome", "Hello {förnamn},\n\nWelcome to the programme. I am your clinician at {vårdenhet}. "
               "Start with the module {modul} when it suits you, and write to me here if you have any questions.\n\n"
               "Best wishes,\n{behandlare}"),
        "ar": ("ترحيب", "مرحبًا {förnamn}،\n\nأهلًا بك في البرنامج. أنا المعالج المسؤول عنك في {vårdenhet}. "
               "ابدأ بوحدة «{modul}» في الوقت الذي يناسبك، ويمكنك مراسلتي هنا إذا كانت لديك أي أسئلة.\n\n"
               "مع أطيب التحيات،\n{behandlare}"),
        "fa": ("خوش‌آمدگویی", "سلام {förnamn}،\n\nبه برنامه خوش آمدید. من درمانگر شما در {vårdenhet} هستم. "
               "هر وقت برایتان مناسب بود، با بخش «{modul}» شروع کنید و اگر سؤالی داشتید، همین‌جا برایم بنویسید.\n\n"
               "با احترام،\n{behandlare}"),
    },
    "feedback": {
        "sv": ("Veckans återkoppling", "Hej {förnamn}!\n\nTack för dina svar i modulen {modul}. Jag har läst dem.\n\n"
               "[Skriv din återkoppling här.]\n\nFortsätt gärna med nästa del när du är redo, och hör av dig om "
               "något känns oklart.\n\nVänliga hälsningar\n{behandlare}"),
        "en": ("Weekly feedback", "Hello {förnamn},\n\nThank you for your answers in the module {modul}. I have read "
               "them.\n\n[Write your feedback here.]\n\nCarry on with the next part when you are ready, and get in "
               "touch if anything is unclear.\n\nBest wishes,\n{behandlare}"),
        "ar": ("ملاحظات الأسبوع", "مرحبًا {förnamn}،\n\nشكرًا لك على إجاباتك في وحدة «{modul}»، لقد قرأتها.\n\n"
               "[اكتب ملاحظاتك هنا.]\n\nتابع الجزء التالي عندما تكون مستعدًا، وتواصل معي إذا كان هناك شيء غير "
               "واضح.\n\nمع أطيب التحيات،\n{behandlare}"),
        "fa": ("بازخورد هفتگی", "سلام {förnamn}،\n\nاز پاسخ‌هایتان در بخش «{modul}» ممنونم. آن‌ها را خواندم.\n\n"
               "[بازخورد خود را اینجا بنویسید.]\n\nهر وقت آماده بودید، بخش بعدی را ادامه دهید و اگر چیزی "
               "نامشخص بود، به من بگویید.\n\nبا احترام،\n{behandlare}"),
    },
    "reminder": {
        "sv": ("Påminnelse om att fortsätta", "Hej {förnamn}!\n\nDet var ett tag sedan du var inne i programmet. "
               "Modulen {modul} väntar på dig när du har tid – även en kort stund gör skillnad. Skriv till mig om "
               "något hindrar dig.\n\nVänliga hälsningar\n{behandlare}"),
        "en": ("Reminder to continue", "Hello {förnamn},\n\nIt has been a while since you were last in the "
               "programme. The module {modul} is waiting for you when you have time – even a short while makes a "
               "difference. Write to me if something is getting in the way.\n\nBest wishes,\n{behandlare}"),
        "ar": ("تذكير بالمتابعة", "مرحبًا {förnamn}،\n\nمرّ بعض الوقت منذ آخر زيارة لك للبرنامج. وحدة «{modul}» "
               "بانتظارك عندما يتوفر لديك الوقت، فحتى وقت قصير يُحدث فرقًا. راسلني إذا كان هناك ما يعيقك.\n\n"
               "مع أطيب التحيات،\n{behandlare}"),
        "fa": ("یادآوری برای ادامه", "سلام {förnamn}،\n\nمدتی است که به برنامه سر نزده‌اید. بخش «{modul}» هر وقت "
               "فرصت داشتید منتظر شماست؛ حتی زمانی کوتاه هم فرق ایجاد می‌کند. اگر چیزی مانع شماست، برایم "
               "بنویسید.\n\nبا احترام،\n{behandlare}"),
    },
    "closing": {
        "sv": ("Avslutning", "Hej {förnamn}!\n\nNu är du klar med programmet. Tack för ditt arbete! Du kan "
               "fortfarande läsa allt du har gjort och skriva ut din sammanfattning. Hör av dig till {vårdenhet} "
               "om du behöver mer hjälp längre fram.\n\nVänliga hälsningar\n{behandlare}"),
        "en": ("Closing", "Hello {förnamn},\n\nYou have now finished the programme – thank you for your work! You "
               "can still read everything you have done and print your summary. Contact {vårdenhet} if you need "
               "more help later on.\n\nBest wishes,\n{behandlare}"),
        "ar": ("ختام البرنامج", "مرحبًا {förnamn}،\n\nلقد أنهيت البرنامج الآن، شكرًا لك على جهدك! لا يزال بإمكانك "
               "قراءة كل ما أنجزته وطباعة ملخصك. تواصل مع {vårdenhet} إذا احتجت إلى مزيد من المساعدة لاحقًا.\n\n"
               "مع أطيب التحيات،\n{behandlare}"),
        "fa": ("پایان برنامه", "سلام {förnamn}،\n\nاکنون برنامه را به پایان رسانده‌اید؛ از تلاش شما سپاسگزارم! "
               "همچنان می‌توانید همه‌ی کارهایی را که انجام داده‌اید بخوانید و خلاصه‌ی خود را چاپ کنید. اگر بعدها "
               "به کمک بیشتری نیاز داشتید، با {vårdenhet} تماس بگیرید.\n\nبا احترام،\n{behandlare}"),
    },
}

FALLBACK_LOCALE = "sv"


def built_in(kind: str, locale: str) -> tuple[str, str] | None:
    """(name, body) of a shipped template in the locale, else in Swedish; None for an unknown kind."""
    texts = BUILT_IN.get(kind)
    if texts is None:
        return None
    return texts.get(locale) or texts[FALLBACK_LOCALE]
