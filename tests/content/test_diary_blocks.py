"""'::: diary' blocks: what the parser takes from them and every broken definition `content check` reports."""

from __future__ import annotations

import pytest

from tests.content.test_damaged_files import load, make_tree, roots
from webapp.content.parser import parse_module_file

FRONT = "---\ntitle: Dagbok\nkind: normal\nversion: 1\n---\n\n## Sidan\n\nText.\n\n"
GOOD_DIARY = """::: diary my-diary
Skriv in hur dagen var.

- activity number min=0 max=600 step=5 unit=min summary=total | Minuter i rörelse
- pain scale min=0 max=10 low="Ingen smärta" high="Värsta tänkbara" | Smärta
- done yesno | Gjorde det jag ville
:::
"""


def _parse(block: str):
    return parse_module_file(FRONT + block, "modules/demo/intro/sv.md")


def test_a_diary_block_gives_its_text_and_fields():
    parsed = _parse(GOOD_DIARY)
    assert parsed.problems == []
    segment = next(s for p in parsed.pages for s in p.segments if s.kind == "diary")
    assert segment.id == "my-diary" and "Skriv in hur dagen var." in segment.html and "<li>" not in segment.html
    activity, pain, done = segment.fields
    assert (activity.id, activity.kind, activity.min, activity.max, activity.step, activity.unit, activity.summary,
            activity.label) == ("activity", "number", 0, 600, 5, "min", "total", "Minuter i rörelse")
    assert (pain.kind, pain.min, pain.max, pain.low, pain.high, pain.summary) == \
        ("scale", 0, 10, "Ingen smärta", "Värsta tänkbara", "mean")
    assert (done.kind, done.min, done.max) == ("yesno", 0, 1)
    assert parsed.diary_blocks == [("my-diary", 11, segment.fields)]
    # A diary is not one of the answer blocks (reflection, task, rating) that Answer rows hold.
    assert parsed.answer_blocks == []


# Each broken definition, the line it is reported on (the block starts on line 11) and words of the message.
BROKEN = {
    "no-id": ("::: diary\nText.\n\n- pain scale | Smärta\n:::\n", 11, "has no id"),
    "bad-id": ("::: diary Dagbok!\nText.\n\n- pain scale | Smärta\n:::\n", 11, "not a valid id"),
    "no-text": ("::: diary d-one\n- pain scale | Smärta\n:::\n", 11, "has no text"),
    "no-fields": ("::: diary d-one\nBara text.\n:::\n", 11, "no values to register"),
    "no-label": ("::: diary d-one\nText.\n\n- pain scale min=0 max=10\n:::\n", 14, "label after '|'"),
    "bad-field-id": ("::: diary d-one\nText.\n\n- Smärta! scale | Smärta\n:::\n", 14, "not a valid id"),
    "unknown-kind": ("::: diary d-one\nText.\n\n- pain slider | Smärta\n:::\n", 14, "kind 'slider'"),
    "unknown-setting": ("::: diary d-one\nText.\n\n- pain scale colour=red | Smärta\n:::\n", 14, "colour="),
    "not-a-number": ("::: diary d-one\nText.\n\n- sleep number min=0 max=tolv | Sömn\n:::\n", 14, "not a number"),
    "number-without-range": ("::: diary d-one\nText.\n\n- sleep number | Sömn\n:::\n", 14, "needs min= and max="),
    "min-above-max": ("::: diary d-one\nText.\n\n- sleep number min=24 max=0 | Sömn\n:::\n", 14, "below max="),
    "zero-step": ("::: diary d-one\nText.\n\n- sleep number min=0 max=24 step=0 | Sömn\n:::\n", 14, "step="),
    "scale-too-fine": ("::: diary d-one\nText.\n\n- pain scale min=0 max=100 | Smärta\n:::\n", 14, "at most 21 steps"),
    "yesno-with-range": ("::: diary d-one\nText.\n\n- done yesno max=5 | Gjort\n:::\n", 14, "no min, max or step"),
    "unknown-summary": ("::: diary d-one\nText.\n\n- pain scale summary=median | Smärta\n:::\n", 14, "summary='median'"),
    "two-fields-one-id": ("::: diary d-one\nText.\n\n- pain scale | Smärta\n- pain scale | Värk\n:::\n", 15,
                          "two values called 'pain'"),
    "huge-number": ("::: diary d-one\nText.\n\n- steps number min=0 max=1e400 | Steg\n:::\n", 14, "not a number"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_broken_diary_is_reported_on_its_line_with_a_fix(name):
    block, line, words = BROKEN[name]
    parsed = _parse(block)
    found = [p for p in parsed.problems if words in p.message]
    assert found, [str(p) for p in parsed.problems]
    assert found[0].line == line and found[0].fix, str(found[0])
    assert str(found[0]).startswith(f"modules/demo/intro/sv.md:{line}: ")


def _tree_with_diary(tmp_path, sv_fields: str, en_fields: str):
    root = make_tree(tmp_path)
    for lang, fields in (("sv", sv_fields), ("en", en_fields)):
        file = root / "modules/demo/closing" / f"{lang}.md"
        file.write_text(file.read_text(encoding="utf-8") + f"\n\n::: diary closing-diary\nText.\n\n{fields}\n:::\n",
                        encoding="utf-8")
    return root


def test_the_same_diary_in_two_languages_loads(tmp_path):
    root = _tree_with_diary(tmp_path, "- pain scale | Smärta\n- sleep number min=0 max=24 | Sömn",
                            "- pain scale | Pain\n- sleep number min=0 max=24 | Sleep")
    catalogue = load(root)
    assert catalogue.errors == [], [str(p) for p in catalogue.errors]
    assert catalogue.programmes["demo"].module("closing").diary_ids() == ["closing-diary"]


@pytest.mark.parametrize("en_fields, words", [
    ("- pain scale | Pain\n- sleep number min=0 max=12 | Sleep", "differ from sv.md"),
    ("- sleep number min=0 max=24 | Sleep\n- pain scale | Pain", "differ from sv.md"),
    ("- pain scale | Pain", "differ from sv.md"),
    ("- pain scale | Pain\n- hours number min=0 max=24 | Sleep", "differ from sv.md"),
])
def test_a_translation_whose_diary_registers_other_values_is_an_error_on_its_line(tmp_path, en_fields, words):
    root = _tree_with_diary(tmp_path, "- pain scale | Smärta\n- sleep number min=0 max=24 | Sömn", en_fields)
    errors = [p for p in load(root).errors if p.path.endswith("closing/en.md")]
    assert any(words in p.message for p in errors), [str(p) for p in errors]
    text = (root / "modules/demo/closing/en.md").read_text(encoding="utf-8").split("\n")
    problem = next(p for p in errors if words in p.message)
    assert text[problem.line - 1].startswith("::: diary closing-diary")


def test_a_diary_id_used_twice_in_a_programme_is_reported(tmp_path):
    root = _tree_with_diary(tmp_path, "- pain scale | Smärta", "- pain scale | Pain")
    for lang in ("sv", "en"):
        file = root / "modules/demo/intro" / f"{lang}.md"
        file.write_text(file.read_text(encoding="utf-8") + "\n\n::: diary closing-diary\nText.\n\n- pain scale | P\n:::\n",
                        encoding="utf-8")
    assert any("also used in module" in p.message for p in load(root).errors)


@pytest.fixture
def app_config(tmp_path):
    """The content of this file's app: a diary whose English version has another range for sleep."""
    return roots(_tree_with_diary(tmp_path, "- pain scale | Smärta\n- sleep number min=0 max=24 | Sömn",
                                  "- pain scale | Pain\n- sleep number min=0 max=10 | Sleep"))


def test_content_check_names_the_file_and_line_of_a_broken_diary(runner):
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1
    line = next(line for line in result.output.splitlines() if "closing-diary" in line and "differ" in line)
    assert "modules/demo/closing/en.md:" in line and " — " in line
