"""Draw the explanatory pictures under media/ (pain-system, pacing-curve, activity-balance) as small SVG files.

Run `python media/pictures.py` after changing a label; the SVGs are committed. The texts
are laid out by hand (line breaks in the lists below), so check each picture at 360 px.
"""
from pathlib import Path
from xml.sax.saxutils import escape

MEDIA = Path(__file__).resolve().parent
FONT = "font-family=\"'DejaVu Sans', Arial, 'Noto Sans Arabic', Tahoma, sans-serif\""
INK, BRAND, WARM, SOFT = "#1b2a2f", "#0b5563", "#9a3412", "#e6f2f3"

def text(x, y, lines, size=15, weight="normal", anchor="start", rtl=False, lh=19, fill=INK):
    attrs = f'font-size="{size}" font-weight="{weight}" fill="{fill}" text-anchor="{anchor}"'
    if rtl:
        attrs += ' direction="rtl"'
    return "\n".join(f'<text x="{x}" y="{y + i * lh}" {attrs}>{escape(line)}</text>' for i, line in enumerate(lines))

def svg(w, h, lang, title, body):
    rtl = ' direction="rtl"' if lang in ("ar", "fa") else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            f'lang="{lang}"{rtl} {FONT}>\n<title>{escape(title)}</title>\n'
            f'<rect width="{w}" height="{h}" fill="#ffffff"/>\n{body}\n</svg>\n')

# ---- 1. the pain system: nerves -> spinal cord -> brain
PAIN = {
 "sv": ("Så skapas smärta", [("3. Hjärnan", ["väger ihop signalerna med", "tankar, minnen och känslor", "och avgör hur ont det gör."]),
                             ("2. Ryggmärgen", ["skickar signalerna vidare", "upp till hjärnan."]),
                             ("1. Nerverna i kroppen", ["känner av tryck, värme,", "kyla och skada."])]),
 "en": ("How pain is made", [("3. The brain", ["weighs the signals together", "with thoughts, memories and", "feelings, and decides how", "much it hurts."]),
                             ("2. The spinal cord", ["passes the signals on", "up to the brain."]),
                             ("1. Nerves in the body", ["sense pressure, heat,", "cold and damage."])]),
 "ar": ("كيف يتكوّن الألم", [("٣. الدماغ", ["يجمع الإشارات مع الأفكار", "والذكريات والمشاعر،", "ويقرّر شدة الألم."]),
                             ("٢. النخاع الشوكي", ["ينقل الإشارات", "إلى الدماغ."]),
                             ("١. الأعصاب في الجسم", ["تحسّ بالضغط والحرارة", "والبرودة والضرر."])]),
 "fa": ("درد چگونه ساخته می‌شود", [("۳. مغز", ["پیام‌ها را با افکار، خاطره‌ها", "و احساسات کنار هم می‌گذارد", "و تصمیم می‌گیرد درد چقدر باشد."]),
                             ("۲. نخاع", ["پیام‌ها را به", "مغز می‌فرستد."]),
                             ("۱. عصب‌های بدن", ["فشار، گرما، سرما", "و آسیب را حس می‌کنند."])]),
}
def pain_system(lang):
    title, rows = PAIN[lang]
    rtl = lang in ("ar", "fa")
    W, H = 360, 440
    icon_x = W - 60 if rtl else 60          # icon column centre
    tx = W - 112 if rtl else 112             # text start
    parts = [text(W / 2, 32, [title], size=19, weight="bold", anchor="middle", rtl=rtl)]
    tops = [60, 190, 310]
    # icons: brain, spinal cord, hand with a signal
    bx, by = icon_x, tops[0] + 45
    parts.append(f'<ellipse cx="{bx}" cy="{by}" rx="44" ry="34" fill="{SOFT}" stroke="{BRAND}" stroke-width="3"/>')
    parts.append(f'<path d="M{bx-28},{by-4} q10,-18 20,0 t20,0 M{bx-24},{by+14} q12,-14 24,0 t18,0" fill="none" stroke="{BRAND}" stroke-width="2.5"/>')
    sy = tops[1] + 10
    for i in range(4):
        parts.append(f'<rect x="{icon_x-16}" y="{sy + i * 22}" width="32" height="17" rx="5" fill="{SOFT}" stroke="{BRAND}" stroke-width="2.5"/>')
    parts.append(f'<line x1="{icon_x}" y1="{sy-4}" x2="{icon_x}" y2="{sy+90}" stroke="{WARM}" stroke-width="3"/>')
    hy = tops[2] + 20
    parts.append(f'<path d="M{icon_x-30},{hy+60} v-30 q0,-12 10,-12 v-14 q0,-8 7,-8 q7,0 7,8 v-6 q0,-8 7,-8 q7,0 7,8 v6 q0,-8 7,-8 q7,0 7,8 v44 q0,20 -22,20 h-8 q-22,0 -24,-8 z" fill="{SOFT}" stroke="{BRAND}" stroke-width="2.5"/>')
    # the signal travels upwards: arrows between the icons
    for y1, y2 in ((hy - 16, sy + 96), (sy - 8, by + 40)):
        parts.append(f'<line x1="{icon_x}" y1="{y1}" x2="{icon_x}" y2="{y2 + 10}" stroke="{WARM}" stroke-width="3" stroke-dasharray="6 4"/>')
        parts.append(f'<path d="M{icon_x-8},{y2 + 14} L{icon_x},{y2} L{icon_x+8},{y2 + 14} z" fill="{WARM}"/>')
    anchor = "start"
    for (head, lines), top in zip(rows, tops, strict=True):
        parts.append(text(tx, top + 28, [head], size=17, weight="bold", anchor=anchor, rtl=rtl, fill=BRAND))
        parts.append(text(tx, top + 50, lines, size=16, anchor=anchor, rtl=rtl, lh=20))
    return svg(W, H, lang, title, "\n".join(parts))

# ---- 2. pacing: peaks and troughs vs a steady amount every day
PACING = {
 "sv": ("Toppar och dalar, eller lagom varje dag", "Toppar och dalar", "Lagom varje dag, och lite mer med tiden", "Aktivitet", "Dagar", "för mycket", "för lite"),
 "en": ("Peaks and troughs, or a steady amount every day", "Peaks and troughs", "Steady, and a little more over time", "Activity", "Days", "too much", "too little"),
}
def pacing(lang):
    title, top_label, bottom_label, y_label, x_label, much, little = PACING[lang]
    W, H = 360, 400
    parts = [text(W / 2, 26, [title] if len(title) < 30 else [title[:title.rfind(",") + 1], title[title.rfind(",") + 2:]],
                  size=16, weight="bold", anchor="middle")]
    def panel(y0, label, points, colour):
        p = [text(20, y0, [label], size=14, weight="bold", fill=colour)]
        ox, oy, w, h = 40, y0 + 18, 300, 110
        p.append(f'<line x1="{ox}" y1="{oy}" x2="{ox}" y2="{oy+h}" stroke="{INK}" stroke-width="1.5"/>')
        p.append(f'<line x1="{ox}" y1="{oy+h}" x2="{ox+w}" y2="{oy+h}" stroke="{INK}" stroke-width="1.5"/>')
        p.append(f'<text x="{ox-8}" y="{oy+h/2}" font-size="12" fill="{INK}" text-anchor="middle" transform="rotate(-90 {ox-8} {oy+h/2})">{escape(y_label)}</text>')
        p.append(text(ox + w, oy + h + 16, [x_label], size=12, anchor="end"))
        step = w / (len(points) - 1)
        d = " ".join(f"{'M' if i == 0 else 'L'}{ox + i * step:.0f},{oy + h - v * h:.0f}" for i, v in enumerate(points))
        p.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="3.5" stroke-linejoin="round" stroke-linecap="round"/>')
        return p, (ox, oy, w, h)
    boom = [0.35, 0.95, 0.15, 0.2, 0.3, 0.9, 0.1, 0.2, 0.85, 0.15, 0.25]
    steady = [0.35, 0.37, 0.38, 0.4, 0.42, 0.44, 0.46, 0.49, 0.52, 0.55, 0.58]
    p1, (ox, oy, w, h) = panel(80, top_label, boom, WARM)
    p1.append(text(ox + w * 0.1 + 8, oy + 12, [much], size=12, fill=WARM))
    p1.append(text(ox + w * 0.2 - 4, oy + h - 4, [little], size=12, anchor="end", fill=WARM))
    p2, _ = panel(250, bottom_label, steady, BRAND)
    parts += p1 + p2
    return svg(W, H, lang, title, "\n".join(parts))

# ---- 3. activity balance: duties, rest and joy
BALANCE = {
 "sv": ("Aktivitetsbalans", [("Plikter", ["städa, tvätta,", "arbeta"]), ("Vila", ["sömn, paus,", "avslappning"]), ("Glädje", ["vänner, musik,", "natur"])], "Balans"),
 "en": ("Activity balance", [("Duties", ["cleaning, laundry,", "work"]), ("Rest", ["sleep, breaks,", "relaxation"]), ("Joy", ["friends, music,", "nature"])], "Balance"),
}
def balance(lang):
    title, circles, centre = BALANCE[lang]
    W, H = 360, 350
    parts = [text(W / 2, 28, [title], size=18, weight="bold", anchor="middle")]
    spots = [(180, 120), (112, 240), (248, 240)]
    fills = ["#fde7d9", "#dcecf7", "#e3f4e1"]
    strokes = [WARM, "#1d4f91", "#2f6b2f"]
    for (cx, cy), fill, stroke in zip(spots, fills, strokes, strict=True):
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="78" fill="{fill}" fill-opacity="0.85" stroke="{stroke}" stroke-width="3"/>')
    offsets = [(0, -28), (-22, 14), (22, 14)]
    for ((cx, cy), (dx, dy), (head, lines), stroke) in zip(spots, offsets, circles, strokes, strict=True):
        parts.append(text(cx + dx, cy + dy, [head], size=16, weight="bold", anchor="middle", fill=stroke))
        parts.append(text(cx + dx, cy + dy + 20, lines, size=12, anchor="middle", lh=15))
    parts.append(f'<circle cx="180" cy="200" r="26" fill="#ffffff" stroke="{INK}" stroke-width="2"/>')
    parts.append(text(180, 205, [centre], size=12, weight="bold", anchor="middle"))
    return svg(W, H, lang, title, "\n".join(parts))

def write(media_id, make, langs):
    d = MEDIA / media_id
    d.mkdir(exist_ok=True)
    files = []
    for lang in langs:
        (d / f"{lang}.svg").write_text(make(lang), encoding="utf-8")
        files.append(f"  {lang}: {{src: {lang}.svg}}")
    (d / "media.yaml").write_text(f"id: {media_id}\nkind: image\nfiles:\n" + "\n".join(files) + "\n", encoding="utf-8")

write("pain-system", pain_system, ["sv", "en", "ar", "fa"])
write("pacing-curve", pacing, ["sv", "en"])
write("activity-balance", balance, ["sv", "en"])
