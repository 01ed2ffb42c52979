"""Property-based tests (hypothesis): the Markdown renderers never emit an element
or attribute outside an allow-list, the scorer stays within its scale, and the
personal identity number validator accepts exactly the numbers with a right check
digit."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.config import PROJECT_ROOT
from webapp.content.questionnaires import load_questionnaires
from webapp.core.identity import IdentityError, luhn_check_digit, normalise_personal_number
from webapp.core.markdown import content_parser, render_markdown
from webapp.questionnaires.scoring import score

ALLOWED = {
    "p": set(), "em": set(), "strong": set(), "s": set(), "code": set(), "pre": set(), "blockquote": set(),
    "ul": set(), "ol": {"start"}, "li": set(), "hr": set(), "br": set(),
    "h1": set(), "h2": set(), "h3": set(), "h4": set(), "h5": set(), "h6": set(),
    "a": {"href", "title", "rel"}, "img": {"src", "alt", "title"},
    "table": set(), "thead": set(), "tbody": set(), "tr": set(), "th": {"style"}, "td": {"style"},
    # ::: blocks in programme content (rendered further by the content engine)
    "div": {"class"},
}
BAD_SCHEMES = ("javascript:", "vbscript:", "file:", "data:text", "data:application")

# Fragments that try to smuggle markup through Markdown, mixed with ordinary text.
HOSTILE = st.sampled_from([
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))", "[x](data:text/html;base64,PHNjcmlwdD4=)", "![x](javascript:alert(1))",
    "<a href='javascript:alert(1)'>x</a>", "<svg onload=alert(1)>", "<iframe src=//evil>", "`<b>`",
    "```\n<script>\n```", "| a | b |\n|---|---|\n| <i>1</i> | 2 |", "::: video x\n<b>\n:::",
    "[a](vbscript:msgbox)", "<style>body{}</style>", "\u202e<b>", "\x00", "&lt;script&gt;", "***", "> quote",
    "1. one\n2. two", "# heading", "[link](https://example.org \"title\")", "<!-- c -->", "<div onclick=x>",
])
MARKDOWN = st.lists(st.one_of(HOSTILE, st.text(max_size=40)), max_size=12).map("\n".join)


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


def _check_html(html: str) -> None:
    collector = _Collector()
    collector.feed(html)
    for tag, attrs in collector.found:
        assert tag in ALLOWED, f"element <{tag}> in {html!r}"
        for name, value in attrs:
            assert name in ALLOWED[tag], f"attribute {name} on <{tag}> in {html!r}"
            if name in ("href", "src"):
                assert not (value or "").strip().lower().startswith(BAD_SCHEMES), f"{name}={value!r}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MARKDOWN)
def test_typed_markdown_renders_only_allowed_markup(source):
    _check_html(str(render_markdown(source)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MARKDOWN)
def test_content_markdown_renders_only_allowed_markup(source):
    _check_html(content_parser.render(source, {}))


FORMS, _problems = load_questionnaires(PROJECT_ROOT / "content" / "forms")
SCORED = [f for f in FORMS.values() if f.has_text and f.total is not None]


@st.composite
def form_and_answers(draw):
    form = draw(st.sampled_from(SCORED))
    answers = {}
    for item in form.items:
        if item.type in ("single_choice", "scale", "vas", "number") and draw(st.booleans()):
            answers[item.id] = draw(st.integers(item.low, item.high))
    return form, answers


@settings(max_examples=300, deadline=None)
@given(form_and_answers())
def test_scores_stay_within_the_scale_and_find_their_band(case):
    form, answers = case
    result = score(form, answers)
    scored = [i for i in form.total.items]
    missing = [i for i in scored if i not in answers]
    if len(missing) > form.max_missing:
        assert result.total is None
        return
    low, high = form.total.range
    assert low <= result.total <= high
    if form.total.bands:
        assert result.band is not None and result.band.min <= result.total <= result.band.max + 0.999


@settings(max_examples=500, deadline=None)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31)), st.integers(0, 999), st.integers(0, 9))
def test_personal_numbers_are_accepted_exactly_with_the_right_check_digit(day, serial, digit):
    nine = f"{day:%y%m%d}{serial:03d}"
    text = f"{day:%Y%m%d}-{serial:03d}{digit}"
    if digit == luhn_check_digit(nine):
        assert normalise_personal_number(text) == f"{day:%Y%m%d}{serial:03d}{digit}"
    else:
        try:
            normalise_personal_number(text)
        except IdentityError as exc:
            assert exc.code == "checksum"
        else:
            raise AssertionError(f"{text} accepted with a wrong check digit")


@given(st.text(max_size=30))
def test_the_validator_never_crashes(text):
    try:
        normalise_personal_number(text)
    except IdentityError as exc:
        assert exc.code in ("format", "date", "checksum")
