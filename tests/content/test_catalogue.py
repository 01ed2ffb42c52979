"""The content engine: parsing, checks with file:line messages, safe rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.content.parser import parse_module_file
from webapp.content.services import load_catalogue

FIXTURES = Path(__file__).parent / "fixtures"


def _load(name):
    root = FIXTURES / name
    return load_catalogue(root / "modules", root / "media", root / "forms")


def test_good_fixture_loads_without_errors():
    catalogue = _load("good")
    assert catalogue.errors == []
    module = catalogue.programmes["demo"].module("intro")
    sv = module.versions["sv"]
    # Text before the first "##" is a page of its own, titled by the module.
    assert [p.title for p in sv.pages] == ["Introduktion", "Första sidan", "Andra sidan"]
    kinds = [s.kind for p in sv.pages for s in p.segments]
    assert kinds == ["html", "html", "tip", "reflection", "task", "rating", "audio", "video", "image"]
    task = next(s for p in sv.pages for s in p.segments if s.kind == "task")
    assert [str(i) for i in task.items] == ["Välj en dag", "Gå"]
    assert "Gå en promenad." in task.html and "<li>" not in task.html
    rating = next(s for p in sv.pages for s in p.segments if s.kind == "rating")
    assert rating.attrs == {"min": "Inte alls", "max": "Helt"}
    assert module.answer_ids() == [("reflection", "intro-first-thought", 0), ("task", "intro-walk", 2),
                                   ("rating", "intro-managing", 0)]


def test_links_are_rewritten_and_external_ones_are_safe():
    catalogue = _load("good")
    html = str(catalogue.programmes["demo"].module("intro").versions["sv"].pages[1].segments[0].html)
    assert 'href="../closing/1"' in html
    assert 'href="/forms/phq-demo"' in html
    assert 'href="https://www.1177.se" rel="noopener noreferrer"' in html


def test_coverage_states():
    catalogue = _load("good")
    programme = catalogue.programmes["demo"]
    assert programme.module("intro").coverage("en") == "complete"
    # closing/sv.md is version 2, en.md translates version 1.
    assert programme.module("closing").coverage("en") == "stale"
    assert [str(w) for w in catalogue.warnings] == [
        "tests/content/fixtures/good/modules/demo/closing/en.md:1: the translation is older than sv.md (version 2)"
        " — update the text and set 'translates: 2'"
    ]


EXPECTED_ERRORS = [
    ("broken/modules/broken/bad-front/sv.md:3:", "front matter is not valid YAML"),
    ("broken/modules/broken/dup-id/sv.md:8:", "the id 'shared-id' is also used in module 'okay'"),
    ("broken/modules/broken/missing-lang-id/en.md:6:", "the reflection 'only-in-swedish' of sv.md (line 6) is missing here"),
    ("broken/modules/broken/missing-media/sv.md:8:", "there is no media 'no-such-sound'"),
    ("broken/modules/broken/video-no-captions/sv.md:6:", "the video 'silent-film' has no captions"),
    ("broken/media/silent-film/media.yaml:4:", "the video has no captions file"),
    ("broken/modules/broken/unknown-directive/sv.md:8:", "unknown block 'quiz'"),
    ("broken/modules/broken/raw-html/sv.md:8:", "HTML is not allowed"),
    ("broken/modules/broken/raw-html/sv.md:8:", "javascript:, data: or file: link is not allowed"),
]


@pytest.mark.parametrize("where, what", EXPECTED_ERRORS)
def test_broken_fixture_reports_file_line_and_fix(where, what):
    messages = [str(p) for p in _load("broken").errors]
    matching = [m for m in messages if where in m and what in m]
    assert len(matching) == 1, messages
    assert " — " in matching[0]  # every error says how to fix it


def test_broken_modules_are_hidden_but_the_rest_is_published():
    programme = _load("broken").programmes["broken"]
    # A broken translation does not hide the module: those readers get the default language.
    assert [m.id for m in programme.published_modules] == ["okay", "missing-lang-id"]
    version, is_fallback = programme.module("missing-lang-id").version("en")
    assert (version.lang, is_fallback) == ("sv", True)
    assert {m.id for m in programme.modules} >= {"okay", "bad-front", "raw-html", "unknown-directive"}


def test_raw_html_and_javascript_links_are_shown_as_text():
    parsed = parse_module_file(
        "---\ntitle: T\nkind: normal\n---\n\n<script>alert(1)</script>\n\nA <b>bold</b> [x](javascript:alert(1))\n"
        "\n<img src=x onerror=alert(1)>\n",
        "x.md",
    )
    html = "".join(str(s.html) for p in parsed.pages for s in p.segments)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>" not in html and "<img" not in html
    assert 'href="javascript' not in html
    assert len([p for p in parsed.problems if "HTML" in p.message]) >= 2


def test_unclosed_block_is_reported():
    parsed = parse_module_file("---\ntitle: T\nkind: normal\n---\n\n::: tip\nNo end.\n", "y.md")
    assert [str(p) for p in parsed.problems] == [
        "y.md:6: a block is not closed — end every ':::' block with a line that has only ':::'"
    ]


def test_shipped_content_has_no_errors():
    catalogue = load_catalogue()
    assert [str(p) for p in catalogue.errors] == []
    assert {"pain-school", "act-long-term-pain", "pain-info"} <= set(catalogue.programmes)
    assert len(catalogue.programmes["pain-school"].published_modules) == 10  # with the flare-up plan and work
    assert len(catalogue.programmes["act-long-term-pain"].published_modules) >= 6


def test_subheadings_stay_on_their_page_one_level_below_the_title():
    parsed = parse_module_file("---\ntitle: T\nkind: normal\n---\n\n## Sida ett\n\n### Under\n\nText.\n\n## Sida två\n", "z.md")
    assert [p.title for p in parsed.pages] == ["Sida ett", "Sida två"]
    assert "<h2>Under</h2>" in str(parsed.pages[0].segments[0].html)
