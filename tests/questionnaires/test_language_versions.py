"""Questionnaires in the patient's language, or clearly not: versions, their sources, notes, scoring by id."""

from __future__ import annotations

import textwrap

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import Auth
from webapp.config import PROJECT_ROOT
from webapp.content.questionnaires import load_questionnaires
from webapp.questionnaires.models import Dispatch, Submission
from webapp.questionnaires.scoring import score

SHIPPED, _PROBLEMS = load_questionnaires(PROJECT_ROOT / "content" / "forms")


def test_phq9_versions_reproduce_named_published_sources():
    phq9 = SHIPPED["phq-9"]
    assert set(phq9.versions) == {"sv", "en"} and all(v.validated for v in phq9.versions.values())
    assert "Mats Adler" in phq9.versions["sv"].source and "Pfizer" in phq9.versions["en"].source
    # The published Swedish wording, word for word (not Lotsa's former paraphrase).
    assert phq9.item("q3").text("sv") == "Problem att somna eller att du vaknat i förtid, eller sovit för mycket"
    assert phq9.recall("sv") == "Under de senaste 2 veckorna, hur ofta har du besvärats av något av följande problem:"


@pytest.mark.parametrize("locale, shown, fallback, unvalidated", [
    ("sv", "sv", False, False), ("en", "en", False, False), ("ar", "sv", True, False), ("fa", "sv", True, False)])
def test_phq9_reading_per_language(locale, shown, fallback, unvalidated):
    reading = SHIPPED["phq-9"].reading(locale)
    assert (reading.lang, reading.is_fallback, reading.is_unvalidated) == (shown, fallback, unvalidated)
    assert reading.needs_note == (fallback or unvalidated)
    # Every text of the shown version is in the shown language, and knows it.
    assert {SHIPPED["phq-9"].item(f"q{n}").text(reading.lang).lang for n in range(1, 10)} == {shown}


def test_an_unchecked_version_of_a_validated_instrument_gets_a_note():
    reading = SHIPPED["gad-7"].reading("sv")
    assert reading.lang == "sv" and reading.is_unvalidated and not reading.is_fallback
    # Lotsa's own question has no validated version anywhere: its translations need no such note.
    assert not SHIPPED["managing-pain"].reading("fa").needs_note


@pytest.mark.parametrize("form_id", ["phq-9", "gad-7", "managing-pain"])
def test_scoring_is_identical_in_every_language_version(form_id):
    """Scores are computed from item ids and values; the language of the labels never enters."""
    form = SHIPPED[form_id]
    answers = {item.id: item.high for item in form.items if item.type != "info"}
    results = set()
    for lang in list(form.versions) + ["ar", "fa"]:
        shown = form.language_for(lang)
        labelled = {item.id: {o.label(shown): o.value for o in item.options} for item in form.items}
        # Answer by label in the shown version, then score what those labels mean.
        chosen = {item_id: labelled[item_id][next(o.label(shown) for o in form.item(item_id).options
                                                  if o.value == value)] if labelled[item_id] else value
                  for item_id, value in answers.items()}
        result = score(form, chosen)
        results.add((result.total, result.band.min if result.band else None, result.safety_hits))
    assert len(results) == 1


def _load(tmp_path, body: str):
    (tmp_path / "demo.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return load_questionnaires(tmp_path)


FORM = """\
    id: demo
    licence: free
    default_language: sv
    versions:
      sv: {validated: true, source: "The published Swedish form"}
      fa: {validated: false, source: "our own translation, not validated"}
    title: {sv: Demo, fa: دمو}
    option_sets:
      yes_no:
        - {value: 0, label: {sv: Nej, fa: نه}}
        - {value: 1, label: {sv: Ja%s}}
    items:
      - {id: q1, type: single_choice, options: yes_no, text: {sv: "Fråga ett?", fa: "پرسش یک؟"}}
      - {id: q2, type: single_choice, options: yes_no, text: {sv: "Fråga två?"%s}}
    scoring: {method: sum, items: [q1, q2], better: lower}
    source: "A test form"
"""


def test_versions_that_agree_load(tmp_path):
    forms, problems = _load(tmp_path, FORM % (", fa: بله", ', fa: "پرسش دو؟"'))
    assert problems == [] and set(forms["demo"].versions) == {"sv", "fa"}


def test_content_check_refuses_versions_that_differ_in_items_or_options(tmp_path):
    forms, problems = _load(tmp_path, FORM % ("", ""))
    assert "demo" not in forms
    found = {(p.line, p.message) for p in problems}
    assert (14, "item 'q2' has no fa text, but the questionnaire has a fa version") in found
    assert (11, "option 1 of item 'q1' has no fa text, but the questionnaire has a fa version") in found
    assert all(p.path.endswith("demo.yaml") for p in problems)


def test_content_check_refuses_a_text_in_an_undeclared_language_and_a_version_without_source(tmp_path):
    body = (FORM % (", fa: بله", ', fa: "پرسش دو؟", ar: "سؤال؟"')).replace(
        'fa: {validated: false, source: "our own translation, not validated"}', "fa: {validated: false}")
    forms, problems = _load(tmp_path, body)
    messages = " | ".join(f"{p.line}: {p.message}" for p in problems)
    assert "6: the fa version needs a source" in messages
    assert "has a ar text, but ar is not one of the versions" in messages


@pytest.fixture
def persian(app, make, db):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel", locale="en")
    patient = make.user("patient", name="Kim Exempelsson", locale="fa")
    enrolment = make.enrolment(patient, unit, clinician)
    sc, pc = app.test_client(), app.test_client()
    Auth(sc, db).login(clinician)
    Auth(pc, db).login(patient)
    return {"e": enrolment, "sc": sc, "pc": pc, "patient": patient}


def test_clinician_sees_before_sending_that_there_is_no_persian_phq9(persian):
    html = persian["sc"].get(f"/clinician/enrolments/{persian['e'].id}/outcomes").get_data(as_text=True)
    assert "The patient reads Persian." in html
    assert "PHQ-9 – low mood: no version in Persian. The patient sees it in Swedish, with a note." in html
    assert "GAD-7 – worry and anxiety: no version in Persian." in html
    assert "Managing your pain: in Persian." in html


def test_persian_patient_gets_swedish_phq9_marked_and_explained_and_scored_by_id(persian, db):
    s = persian
    url = f"/clinician/enrolments/{s['e'].id}"
    assert Auth(s["sc"], db).post(f"{url}/questionnaires", {"form_id": "phq-9"}, url).status_code == 302
    dispatch = db.session.scalars(select(Dispatch)).one()
    answer_url = f"/e/{s['e'].id}/questionnaires/{dispatch.id}"
    html = s["pc"].get(answer_url).get_data(as_text=True)
    assert '<html lang="fa" dir="rtl">' in html
    assert "ترجمهٔ معتبری از این پرسشنامه به زبان فارسی هنوز وجود ندارد" in html
    assert '<ol class="questionnaire-items" lang="sv" dir="ltr">' in html
    assert '<span class="muted" lang="fa" dir="rtl">(الزامی)</span>' in html
    answers = {f"q{n}": "1" for n in range(1, 10)} | {"action": "submit"}
    assert Auth(s["pc"], db).post(answer_url, answers, answer_url).status_code == 302
    submission = db.session.scalars(select(Submission)).one()
    assert (submission.total, submission.safety_hit) == (9, True)
