"""Questionnaire definitions and scoring, against hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.config import PROJECT_ROOT
from webapp.content.questionnaires import load_questionnaires
from webapp.questionnaires.scoring import is_improvement, is_meaningful_change, score

FIXTURES = Path(__file__).parent / "fixtures"
SHIPPED, SHIPPED_PROBLEMS = load_questionnaires(PROJECT_ROOT / "content" / "forms")


def test_shipped_definitions_load_cleanly():
    assert SHIPPED_PROBLEMS == []
    assert set(SHIPPED) == {"phq-9", "gad-7", "managing-pain", "peg", "hads", "eq-vas"}
    assert SHIPPED["hads"].licence == "licence-required" and not SHIPPED["hads"].has_text
    assert SHIPPED["phq-9"].has_text and SHIPPED["phq-9"].item("q9").text("sv").startswith("Tankar att det skulle vara bättre om du var död")


def _answers(prefix_count: int, total: int, per_item_max: int = 3) -> dict:
    """Spread ``total`` over q1..qN, filling items to the maximum in order."""
    answers, left = {}, total
    for n in range(1, prefix_count + 1):
        value = min(per_item_max, left)
        answers[f"q{n}"] = value
        left -= value
    assert left == 0
    return answers


@pytest.mark.parametrize("total, band", [
    (0, "Minimal"), (4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"), (14, "Moderate"),
    (15, "Moderately severe"), (19, "Moderately severe"), (20, "Severe"), (27, "Severe"),
])
def test_phq9_band_edges(total, band):
    result = score(SHIPPED["phq-9"], _answers(9, total))
    assert result.total == total and result.band.labels["en"] == band


@pytest.mark.parametrize("total, band", [
    (0, "Minimal"), (4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"), (14, "Moderate"),
    (15, "Severe"), (21, "Severe"),
])
def test_gad7_band_edges(total, band):
    result = score(SHIPPED["gad-7"], _answers(7, total))
    assert result.total == total and result.band.labels["en"] == band


def test_phq9_item_9_is_a_safety_rule():
    answers = {f"q{n}": 0 for n in range(1, 10)}
    assert score(SHIPPED["phq-9"], answers).safety_hits == ()
    answers["q9"] = 1
    assert score(SHIPPED["phq-9"], answers).safety_hits == ("q9",)


def test_missing_answer_means_no_phq9_total():
    answers = _answers(9, 12)
    del answers["q4"]
    result = score(SHIPPED["phq-9"], answers)
    assert result.total is None and result.missing == ("q4",)


def test_mean_scoring_of_peg():
    assert score(SHIPPED["peg"], {"p": 7, "e": 5, "g": 6}).total == 6.0
    assert score(SHIPPED["peg"], {"p": 7, "e": 5, "g": 5}).total == 5.67


def test_reverse_items_subscales_and_prorating():
    forms, problems = load_questionnaires(FIXTURES / "good")
    assert problems == []
    form = forms["reversed"]
    # a1=3, a2=0 reversed -> 3, b1=1, b2=3 reversed -> 0, c1=2: total 9, a 6, b 1.
    result = score(form, {"a1": 3, "a2": 0, "b1": 1, "b2": 3, "c1": 2})
    assert result.total == 9
    assert {k: v[0] for k, v in result.subscales.items()} == {"a": 6, "b": 1}
    # One missing answer is allowed and filled with the mean of the others: 7 + 7/4 = 8.75 -> 9.
    assert score(form, {"a1": 3, "a2": 0, "b1": 1, "b2": 3}).total == 9
    # Two missing is too many.
    assert score(form, {"a1": 3, "a2": 0, "b1": 1}).total is None
    # Answers outside the scale count as missing, never as numbers.
    assert score(form, {"a1": 7, "a2": "x", "b1": 1, "b2": 3, "c1": 2}).total is None


def test_hads_subscales_from_the_skeleton():
    answers = {f"a{n}": 2 for n in range(1, 8)} | {f"d{n}": 1 for n in range(1, 8)}
    result = score(SHIPPED["hads"], answers)
    assert result.subscales["anxiety"][0] == 14 and result.subscales["anxiety"][1].labels["en"] == "Abnormal"
    assert result.subscales["depression"][0] == 7 and result.subscales["depression"][1].labels["en"] == "Normal"


def test_meaningful_change():
    assert is_meaningful_change(SHIPPED["phq-9"], 16, 11) is True
    assert is_meaningful_change(SHIPPED["phq-9"], 16, 12) is False
    assert is_meaningful_change(SHIPPED["phq-9"], None, 12) is None


def test_improvement_follows_the_better_direction():
    # PHQ-9: lower is better, threshold 5. Managing pain: higher is better, threshold 2.
    assert is_improvement(SHIPPED["phq-9"], 16, 11) is True
    assert is_improvement(SHIPPED["phq-9"], 11, 16) is False
    assert is_improvement(SHIPPED["managing-pain"], 3, 5) is True
    assert is_improvement(SHIPPED["managing-pain"], 5, 3) is False
    assert is_improvement(SHIPPED["managing-pain"], 3, 4) is False
    assert is_improvement(SHIPPED["managing-pain"], None, 4) is None


@pytest.mark.parametrize("file, line, message", [
    ("unknown-type.yaml", 5, "item 'q1' has the unknown type 'slider'"),
    ("band-gap.yaml", 7, "there is a gap between the bands 0–4 and 6–10"),
    ("band-overlap.yaml", 7, "bands overlap: 0–5 and 5–10"),
    ("reverse-text.yaml", 6, "item 'q2' is reverse-scored but has no scale"),
    ("safety-unknown.yaml", 8, "the safety rule names the unknown item 'q9'"),
    ("better-sideways.yaml", 7, "better must be 'lower' or 'higher', not 'sideways'"),
])
def test_malformed_definitions_are_reported_with_file_and_line(file, line, message):
    forms, problems = load_questionnaires(FIXTURES / "broken")
    texts = [str(p) for p in problems]
    assert any(t.startswith(f"tests/questionnaires/fixtures/broken/{file}:{line}: {message}") for t in texts), texts
    assert file.removesuffix(".yaml") not in forms


def test_content_check_includes_questionnaires(app, runner):
    app.config["FORMS_ROOT"] = str(FIXTURES / "broken")
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1
    assert "fixtures/broken/band-gap.yaml:7: there is a gap" in result.output


def test_item_ids_that_the_answer_form_uses_itself_are_refused():
    """The content checker knows every name the answer form keeps for itself."""
    from webapp.content.questionnaires import ITEM_ID_RE, RESERVED_ITEM_IDS
    from webapp.questionnaires.forms import RESERVED

    assert {name for name in RESERVED if ITEM_ID_RE.match(name)} <= RESERVED_ITEM_IDS
