"""The shipped questionnaire definitions: direction, sources, matching language versions,
PHQ-9's unscored item 10, one wording of the managing-pain question, and a content check
that refuses what would mislead."""

from __future__ import annotations

import re
import textwrap

import pytest

from webapp.config import PROJECT_ROOT
from webapp.content.questionnaires import load_questionnaires
from webapp.questionnaires.scoring import score

FORMS = PROJECT_ROOT / "content" / "forms"
SHIPPED, PROBLEMS = load_questionnaires(FORMS)
SCORED = sorted(form_id for form_id, form in SHIPPED.items() if form.total or form.subscales)


def test_every_shipped_form_loads_and_some_are_scored():
    assert PROBLEMS == []
    assert {path.stem for path in FORMS.glob("*.yaml")} == set(SHIPPED)
    assert {"phq-9", "gad-7", "eq-vas", "managing-pain", "peg", "hads"} <= set(SCORED)


@pytest.mark.parametrize("form_id", SCORED)
def test_every_scored_form_says_which_way_is_better(form_id):
    """Written in the file, not a default: a default 'lower' made EQ VAS improvements look like worsenings."""
    text = (FORMS / f"{form_id}.yaml").read_text(encoding="utf-8")
    assert re.search(r"^\s+better: (lower|higher)$", text, re.M), form_id
    assert SHIPPED[form_id].better == re.search(r"better: (\w+)", text).group(1)


def test_eq_vas_improves_upwards_and_the_mood_scales_downwards():
    assert SHIPPED["eq-vas"].better == "higher" and SHIPPED["managing-pain"].better == "higher"
    assert {SHIPPED[f].better for f in ("phq-9", "gad-7", "peg", "hads")} == {"lower"}


@pytest.mark.parametrize("form_id", sorted(SHIPPED))
def test_every_form_names_its_source_and_every_version_too(form_id):
    form = SHIPPED[form_id]
    assert len(form.source) > 20
    assert all(v.source and v.source != "source not recorded" for v in form.versions.values()) or not any(
        i.texts for i in form.items), form_id


@pytest.mark.parametrize("form_id", sorted(SHIPPED))
def test_every_language_version_has_the_same_items_and_options(form_id):
    form = SHIPPED[form_id]
    if not form.has_text:  # a licence-required skeleton: no texts until a unit adds them
        return
    for lang in form.versions:
        for item in form.items:
            assert lang in item.texts, (form_id, lang, item.id)
            assert all(lang in option.labels for option in item.options), (form_id, lang, item.id)
            for labels in (item.min_labels, item.max_labels):
                assert not labels or lang in labels, (form_id, lang, item.id)


def test_phq9_has_ten_items_and_item_10_is_asked_but_never_scored():
    phq9 = SHIPPED["phq-9"]
    assert [i.id for i in phq9.items] == [f"q{n}" for n in range(1, 11)]
    assert "q10" not in phq9.total.items and len(phq9.total.items) == 9
    q10 = phq9.item("q10")
    assert not q10.required and [o.label("sv") for o in q10.options] == [
        "Inga svårigheter", "Vissa svårigheter", "Stora svårigheter", "Extrema svårigheter"]
    assert q10.text("sv").startswith("Om du kryssat för att du haft något av dessa problem")
    nine = {f"q{n}": 2 for n in range(1, 10)}
    assert score(phq9, nine).total == score(phq9, nine | {"q10": 3}).total == 18
    # The band Swedish clinicians use for 15–19.
    assert score(phq9, nine).band.labels == {"sv": "Måttligt svår", "en": "Moderately severe"}
    assert "Mats Adler" in phq9.versions["sv"].source and "q10" not in {r.item for r in phq9.safety}


def test_the_managing_pain_question_has_one_wording_everywhere_it_is_asked():
    """The form and every '::: rating …managing-pain' block in the modules ask the same question with the same ends."""
    form = SHIPPED["managing-pain"]
    item = form.items[0]
    found = 0
    for path in sorted((PROJECT_ROOT / "content" / "modules").glob("*/*/*.md")):
        lang = path.stem
        for match in re.finditer(r'^::: rating ([a-z-]*managing-pain) min="([^"]*)" max="([^"]*)"\n(.*)\n:::$',
                                 path.read_text(encoding="utf-8"), re.M):
            found += 1
            assert (match.group(2), match.group(3), match.group(4)) == (
                item.min_label(lang), item.max_label(lang), item.text(lang)), path
    assert found >= 4


def _write(tmp_path, body: str):
    (tmp_path / "mood.yaml").write_text(textwrap.dedent(body), encoding="utf-8")


DIFFERENT_ITEMS = """\
    id: mood
    licence: free
    source: "A test form"
    versions:
      sv: {validated: false, source: "our own"}
      en: {validated: false, source: "our own"}
    title: {sv: Humör, en: Mood}
    items:
      - {id: q1, type: scale, min: 0, max: 3, text: {sv: "Hur mår du?", en: "How are you?"}}
      - {id: q2, type: scale, min: 0, max: 3, text: {sv: "Hur sover du?"}}
      - {id: q3, type: scale, min: 0, max: 3, text: {en: "How do you eat?"}}
    scoring: {method: sum, items: [q1], better: lower}
"""


def test_content_check_fails_on_a_form_whose_swedish_and_english_items_differ(app, runner, tmp_path):
    """sv has q1, q2; en has q1, q3: both differences are named with file and line."""
    _write(tmp_path, DIFFERENT_ITEMS)
    app.config["FORMS_ROOT"] = str(tmp_path)
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1
    assert f"{tmp_path}/mood.yaml:10: item 'q2' has no en text, but the questionnaire has a en version" in result.output
    assert f"{tmp_path}/mood.yaml:11: item 'q3' has no sv text, but the questionnaire has a sv version" in result.output


@pytest.mark.parametrize("change, line, message", [
    (("    scoring: {method: sum, items: [q1], better: lower}", "    scoring: {method: sum, items: [q1]}"),
     12, "a scored questionnaire must say which way is better"),
    (('    source: "A test form"\n', ""), 1, "the questionnaire has no source"),
])
def test_content_check_refuses_a_scored_form_without_better_and_a_form_without_source(
        app, runner, tmp_path, change, line, message):
    body = DIFFERENT_ITEMS.replace("text: {sv: \"Hur sover du?\"}", "text: {sv: \"Hur sover du?\", en: \"Sleep?\"}")
    body = body.replace("text: {en: \"How do you eat?\"}", "text: {sv: \"Äter du?\", en: \"Eat?\"}")
    _write(tmp_path, body)
    assert load_questionnaires(tmp_path)[1] == []
    _write(tmp_path, body.replace(*change))
    forms, problems = load_questionnaires(tmp_path)
    assert "mood" not in forms
    assert (line, message) in {(p.line, p.message) for p in problems}
    app.config["FORMS_ROOT"] = str(tmp_path)
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1 and f"mood.yaml:{line}: {message}" in result.output
