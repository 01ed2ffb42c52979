"""A corpus of hostile and malformed inputs (more than 200), shared by the tests.

Every HTML-shaped payload carries the marker ``xss`` so a test can tell an
escaped echo (harmless) from a raw one (a hole).
"""

from __future__ import annotations

MARKUP = [
    '<script>alert("xss")</script>', '<img src=x onerror=alert("xss")>', '<svg onload=alert("xss")>',
    '"><script>alert("xss")</script>', "'><img src=x onerror=alert('xss')>", '<a href="javascript:alert(\'xss\')">x</a>',
    '<iframe src="javascript:alert(`xss`)"></iframe>', '<body onload=alert("xss")>', '<input autofocus onfocus=alert("xss")>',
    '<details open ontoggle=alert("xss")>', '<math><mtext><table><mglyph><style><img src=x onerror=alert("xss")>',
    '<scr<script>ipt>alert("xss")</script>', '<<script>alert("xss")//<</script>', '<div style="x:expression(alert(\'xss\'))">',
    '<object data="data:text/html,<script>alert(\'xss\')</script>">', '<meta http-equiv="refresh" content="0;url=javascript:alert(\'xss\')">',
    '[xss](javascript:alert(1))', '![xss](javascript:alert(1))', '[xss](data:text/html;base64,PHNjcmlwdD4=)',
    '<a href=" &#14;javascript:alert(\'xss\')">x</a>', '{{ 7*7 }}xss', '{% raw %}xss', '${7*7}xss', '#{7*7}xss',
    '<template><script>alert("xss")</script></template>', '<noscript><p title="</noscript><img src=x onerror=alert(\'xss\')>">',
]
URLS = ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<b>xss</b>", "vbscript:msgbox(1)",
        "file:///etc/passwd", "//evil.example/x", "http://127.0.0.1:22/", "https://example.org/\u202e"]
SQL = ["' OR '1'='1", "'; DROP TABLE user; --", "1; SELECT pg_sleep(5)", "\" OR \"\"=\"", "1' UNION SELECT NULL--",
       "admin'--", "%' AND 1=1 --", "1) OR (1=1", "'||(SELECT version())||'", "0x27"]
CONTROL = ["\x00", "a\x00b", "\x01\x02\x03", "\x1b[31mred", "\r\nSet-Cookie: x=1", "\t\t", "\x7f", "\ufeff",
           "\u0000\u0000", "line\u2028break", "\u202eevil\u202c", "\u200f\u200e", "\u2066isolate\u2069",
           "\ud7ff", "\uffff", "🙂" * 50, "Ω≈ç√∫", "ﷺ", "à" * 3000]
NUMBERS = ["-1", "0", "-0", "1e309", "9" * 40, "NaN", "Infinity", "-2147483649", "2147483648", "1.5", "0x10",
           "١٢٣", "１２３", " 7 ", "+5", "7.", ".7", "1_000", "1,5", "10e2"]
DATES = ["2026-02-30", "2026-13-01", "0000-00-00", "9999-12-31", "31/12/2026", "2026-1-1", "tomorrow", "2026-02-29",
         "1899-12-31", "2026-12-31T25:00", "-2026-01-01", "20261231", "2026/12/31", "", " ", "NULL"]
TIMES = ["25:00", "12:60", "noon", "-1:00", "12:00:00.000000000", "24:00", "1200"]
PERSONAL_NUMBERS = ["19121212-1213", "191212121213", "19121212+1212", "1912121212", "19121332-1212",
                    "20991231-1234", "000000-0000", "121212-1212-", "abcdefgh-ijkl", "19121212_1212", "😀" * 12]
LONG = ["x" * 501, "y" * 2001, "z" * 5001, "w" * 100_001, ("long words " * 2000)]
EMAILS = ["not-an-email", "a@b", "@example.org", "x@example..org", "x" * 300 + "@example.org",
          "\"x\"@example.org", "x@[127.0.0.1]", "x@example.org\r\nBcc: y@example.org"]

CORPUS: list[str] = []
for group in (MARKUP, URLS, SQL, CONTROL, NUMBERS, DATES, TIMES, PERSONAL_NUMBERS, LONG, EMAILS):
    CORPUS.extend(group)
# The same payloads wrapped in ordinary text, as they would arrive inside a sentence.
CORPUS.extend(f"Hej! {p} Mvh" for p in MARKUP + SQL + CONTROL[:10] + URLS)
# And as a whole line of a longer text, where Markdown might treat them differently.
CORPUS.extend(f"Rad ett\n\n{p}\n\nRad tre" for p in MARKUP)
CORPUS = list(dict.fromkeys(CORPUS))
assert len(CORPUS) >= 200, len(CORPUS)
