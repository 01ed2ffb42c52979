"""The '::: goal' block: a module's goal and key points, checked like the other blocks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from webapp.content.parser import parse_module_file
from webapp.content.services import load_catalogue

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]

HEAD = "---\ntitle: T\nkind: normal\n---\n"
GOAL = "::: goal\nMålet är att förstå.\n\n- Ett\n- Två\n:::\n"


def _messages(text):
    return [(p.line, p.message) for p in parse_module_file(text, "m/sv.md").problems]


def test_goal_block_gives_goal_text_and_key_points():
    parsed = parse_module_file(HEAD + "## Första\n\n" + GOAL + "\nText.\n", "m/sv.md")
    assert parsed.problems == []
    goal = parsed.pages[0].segments[0]
    assert goal.kind == "goal"
    assert "Målet är att förstå." in goal.html and "<li>" not in goal.html
    assert [str(i) for i in goal.items] == ["Ett", "Två"]
    assert parsed.goal_line == 7


@pytest.mark.parametrize("body, line, message", [
    ("## A\n\n::: goal\n- Ett\n:::\n", 7, "does not say what the goal is"),
    ("## A\n\n::: goal\nMålet.\n:::\n", 7, "has no key points"),
    ("## A\n\nText.\n\n## B\n\n" + GOAL, 11, "belongs on the module's first page"),
    ("## A\n\n" + GOAL + "\n" + GOAL, 14, "already has a goal (line 7)"),
])
def test_goal_block_problems_have_their_line(body, line, message):
    problems = _messages(HEAD + body)
    assert any(pline == line and message in text for pline, text in problems), problems


def _catalogue(tmp_path, sv_goal=True, en_goal=True, second_goal=True):
    modules = tmp_path / "modules"
    shutil.copytree(FIXTURES / "good" / "modules", modules)
    shutil.copytree(FIXTURES / "good" / "media", tmp_path / "media")
    shutil.copytree(FIXTURES / "good" / "forms", tmp_path / "forms")
    programme = modules / "demo"
    first = sorted(p for p in programme.iterdir() if p.is_dir())[0]
    for lang, has in (("sv", sv_goal), ("en", en_goal)):
        path = first / f"{lang}.md"
        if path.exists() and has:
            text = path.read_text(encoding="utf-8")
            head, _, body = text.partition("\n---\n")
            path.write_text(f"{head}\n---\n## Mål\n\n{GOAL}\n{body}", encoding="utf-8")
    return load_catalogue(modules, tmp_path / "media", tmp_path / "forms"), first


def test_a_translation_without_the_goal_of_the_default_language_is_an_error(tmp_path):
    catalogue, first = _catalogue(tmp_path, en_goal=False)
    # The fixture must have a translation to compare: a missing one fails here, never skips.
    assert (first / "en.md").exists(), "the fixture module needs an English file"
    errors = [str(p) for p in catalogue.errors]
    assert any(f"{first.name}/en.md:1" in e and "'::: goal' block" in e for e in errors), errors


def test_modules_without_a_goal_are_warned_when_others_have_one(tmp_path):
    catalogue, first = _catalogue(tmp_path)
    warnings = [p for p in catalogue.problems if p.severity == "warning" and "start with a goal" in p.message]
    others = [m for m in catalogue.programmes["demo"].modules if m.id != first.name]
    assert {Path(p.path).parent.name for p in warnings} == {m.id for m in others}


def test_every_pain_school_module_states_its_goal_in_every_language():
    catalogue = load_catalogue(ROOT / "content" / "modules", ROOT / "media", ROOT / "content" / "forms")
    programme = catalogue.programmes["pain-school"]
    for module in programme.modules:
        for lang, version in module.versions.items():
            assert version.has_goal, f"{module.id}/{lang}"
            goal = next(s for s in version.pages[0].segments if s.kind == "goal")
            assert len(goal.items) >= 3, f"{module.id}/{lang}"
        # From the second module on, the first page looks back at last week's task.
        if module.position > 1:
            first_page = module.versions[programme.default_language].pages[0]
            assert any(s.kind == "reflection" and s.id == f"{module.id}-lookback" for s in first_page.segments), module.id
