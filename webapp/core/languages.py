"""Which language a piece of content is in, and which way it runs.

Content (programme and module titles, questionnaire texts, option labels) is
written per language; a page in one language often shows a fragment in another
(a Swedish questionnaire in a Persian page, a programme with no Arabic title).
Such a fragment must carry its own ``lang`` and ``dir``, or the browser lays
out its punctuation and numbers in the page's direction ("?har du …").

``choose`` is the one place a text is picked for a reader: it returns a
``Text``, a ``str`` that remembers the language it is actually in, so every
template can mark the fragment (the ``|lang`` filter, ``lang_attrs``). It needs
no app, so the content package can use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})


def base_language(code: str | None) -> str:
    """'fa' for 'fa_IR' or 'fa-IR'."""
    return str(code or "").replace("-", "_").split("_")[0]


def direction(code: str | None) -> str:
    """'rtl' or 'ltr' for a language code."""
    return "rtl" if base_language(code) in RTL_LANGUAGES else "ltr"


class Text(str):
    """A text that knows its language (``lang``); otherwise an ordinary string."""

    __slots__ = ("lang",)

    def __new__(cls, value: str, lang: str) -> Text:
        text = super().__new__(cls, value)
        text.lang = lang
        return text

    def __reduce__(self):  # copy and pickle keep the language
        return (Text, (str(self), self.lang))


def choose(texts: Mapping[str, str], wanted: str | None, fallbacks: Iterable[str] = (), default: str = "") -> Text:
    """The text for ``wanted``, else the first of ``fallbacks`` that exists, else any; with its language.

    ``default`` is returned (language ``wanted``) when there is no text at all.
    """
    wanted = base_language(wanted)
    for lang in (wanted, *fallbacks):
        if texts.get(lang):
            return Text(texts[lang], lang)
    for lang, value in texts.items():
        if value:
            return Text(value, lang)
    return Text(default, wanted)


def language_of(value, fallback: str | None = None) -> str | None:
    """The language a value is in: a ``Text``'s own, an object's ``lang`` attribute, or ``fallback``."""
    lang = getattr(value, "lang", None)
    return lang if isinstance(lang, str) and lang else fallback
