"""Sending, answering and following a questionnaire; safety answers; reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import Auth
from webapp.core.db import utcnow
from webapp.notifications.models import OutboxItem
from webapp.programme.models import Enrolment
from webapp.questionnaires.jobs import remind_unanswered
from webapp.questionnaires.models import Dispatch, SafetyAlert, Submission


@pytest.fixture
def setup(app, make, db):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Kim Exempelsson")
    enrolment = make.enrolment(patient, unit, clinician)
    sc, pc = app.test_client(), app.test_client()
    Auth(sc, db).login(clinician)
    Auth(pc, db).login(patient)
    return {"unit": unit, "clinician": clinician, "patient": patient, "e": enrolment, "sc": sc, "pc": pc}


def _send(s, db, form_id="phq-9"):
    url = f"/clinician/enrolments/{s['e'].id}"
    return Auth(s["sc"], db).post(f"{url}/questionnaires", {"form_id": form_id}, url)


def _answer_url(s, db):
    dispatch = db.session.scalars(select(Dispatch)).one()
    return f"/e/{s['e'].id}/questionnaires/{dispatch.id}"


def test_send_answer_and_follow_with_a_safety_answer(setup, db):
    s = setup
    assert _send(s, db).status_code == 302
    told = db.session.scalars(select(OutboxItem)).one()
    assert (told.kind, told.address) == ("questionnaire_waiting", s["patient"].email)
    home = s["pc"].get("/home").get_data(as_text=True)
    assert "PHQ-9" in home and "väntar på dig" in home
    url = _answer_url(s, db)
    auth = Auth(s["pc"], db)

    # Save part of it; then a submit with items missing keeps everything and says what is missing.
    auth.post(url, {"q1": "2", "q2": "1", "action": "save"}, url)
    page = auth.post(url, {"q1": "2", "q2": "1", "q3": "1", "action": "submit"}, url)
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "Svara på den här frågan." in html
    assert 'name="q3" value="1" checked' in html or 'id="q3-1" name="q3" value="1" checked' in html

    answers = {f"q{n}": "1" for n in range(1, 10)}
    answers.update(q1="3", q2="3", action="submit")  # total 13: moderate; q9 = 1 hits the safety rule
    done = auth.post(url, answers, url)
    assert done.status_code == 302
    thanks = s["pc"].get(done.location).get_data(as_text=True)
    assert "112" in thanks and "1177" in thanks
    response = db.session.scalars(select(Submission)).one()
    assert (response.total, response.band, response.safety_hit) == (13, "Moderate", True)
    db.session.refresh(s["e"])
    assert s["e"].safety_flag_at is not None
    assert ("safety_flag", s["clinician"].email) in [(o.kind, o.address) for o in db.session.scalars(select(OutboxItem))]

    caseload = s["sc"].get("/clinician/").get_data(as_text=True)
    assert 'class="is-safety"' in caseload and "flag-safety" in caseload
    assert "flag-safety" in s["sc"].get("/clinician/?flagged=1").get_data(as_text=True)
    page = s["sc"].get(f"/clinician/enrolments/{s['e'].id}/outcomes").get_data(as_text=True)
    overview = s["sc"].get(f"/clinician/enrolments/{s['e'].id}").get_data(as_text=True)
    assert '<svg class="chart"' in page and "Måttlig" in page
    alert = db.session.scalars(select(SafetyAlert)).one()
    assert alert.submission_id == response.id and f"/clinician/alerts/{alert.id}" in overview
    # Acknowledging needs a note; with one, the flag is gone and the note is in the history.
    url = f"/clinician/alerts/{alert.id}"
    assert Auth(s["sc"], db).post(url, {"note": "  "}, url).status_code == 400
    assert Auth(s["sc"], db).post(url, {"note": "Ringde patienten, bokade besök"}, url).status_code == 302
    assert db.session.get(Enrolment, s["e"].id).safety_flag_at is None
    assert "Ringde patienten, bokade besök" in s["sc"].get(f"/clinician/enrolments/{s['e'].id}/settings").get_data(as_text=True)
    assert 'class="is-safety"' not in s["sc"].get("/clinician/").get_data(as_text=True)


def test_reminders_stop_when_answered_and_for_closed_enrolments(setup, db):
    s = setup
    _send(s, db)
    _send(s, db, "gad-7")
    dispatches = db.session.scalars(select(Dispatch).order_by(Dispatch.id)).all()
    later = utcnow() + timedelta(days=4)
    dispatches[0].answered_at = utcnow()
    db.session.commit()
    assert remind_unanswered(now=later) == 1  # only the unanswered GAD-7
    assert remind_unanswered(now=later) == 0  # not again within three days
    s["e"].status = "closed"
    db.session.commit()
    assert remind_unanswered(now=later + timedelta(days=4)) == 0


def test_other_patients_and_units_get_404(app, setup, make, db):
    s = setup
    _send(s, db)
    url = _answer_url(s, db)
    other = app.test_client()
    Auth(other, db).login(make.user("patient"))
    assert other.get(url).status_code == 404
    outsider = app.test_client()
    Auth(outsider, db).login(make.user("clinician", units=[make.unit()]))
    response = Auth(outsider, db).post(f"/clinician/enrolments/{s['e'].id}/questionnaires", {"form_id": "phq-9"})
    assert response.status_code == 404


def test_licence_required_skeletons_cannot_be_sent(setup, db):
    s = setup
    _send(s, db, "hads")
    assert db.session.scalars(select(Dispatch)).all() == []


def test_csv_export_is_for_the_own_units_and_logged(app, setup, make, db):
    from webapp.core.audit import AccessLogEntry

    s = setup
    s["patient"].personal_number = "191212121212"
    db.session.commit()
    _send(s, db)
    url = _answer_url(s, db)
    answers = {f"q{n}": "1" for n in range(1, 10)} | {"q9": "0", "action": "submit"}
    Auth(s["pc"], db).post(url, answers, url)
    csv_text = s["sc"].get("/clinician/questionnaires/export.csv?form=phq-9").get_data(as_text=True)
    assert "191212121212" in csv_text and ",8," in csv_text and "Mild" in csv_text
    assert db.session.scalars(select(AccessLogEntry.action).where(
        AccessLogEntry.action == "questionnaires.export")).all() == ["questionnaires.export"]
    outsider = app.test_client()
    Auth(outsider, db).login(make.user("clinician", units=[make.unit()]))
    other = outsider.get("/clinician/questionnaires/export.csv").get_data(as_text=True)
    assert "191212121212" not in other and other.count("\n") == 1  # the header only
    editor = app.test_client()
    Auth(editor, db).login(make.user("editor"))
    assert editor.get("/clinician/questionnaires/export.csv").status_code == 403


def test_programme_measures_go_out_at_start_and_when_all_modules_are_done(app, make, db):
    from webapp.programme.models import ScheduleEntry

    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    patient = make.user("patient")
    sc = app.test_client()
    Auth(sc, db).login(clinician)
    patient.personal_number = "191212121212"
    db.session.commit()
    auth = Auth(sc, db)
    auth.post("/clinician/open", {"step": "1", "personal_number": "191212121212", "programme": "pain-school"},
              "/clinician/open")
    auth.post("/clinician/open", {"step": "2", "personal_number": "191212121212", "programme": "pain-school",
                                  "responsible": str(clinician.id), "recommended_days": "365", "locale": "sv",
                                  "welcome_text": "Hej"}, "/clinician/open")
    enrolment = db.session.scalars(select(Enrolment)).one()
    before = db.session.scalars(select(Dispatch.form_id).where(Dispatch.purpose == "before")).all()
    assert sorted(before) == ["managing-pain", "peg", "phq-9"]  # PHQ-9: the pain school's safety net
    # Leave out all but the first module, then finish it: the "after" measures follow.
    for module in ["treatment", "flare-up-plan", "physical-activity", "everyday-activity", "work", "psychology", "lifestyle", "family", "closing"]:
        db.session.add(ScheduleEntry(enrolment_id=enrolment.id, module_id=module, is_skipped=True))
    db.session.commit()
    pc = app.test_client()
    Auth(pc, db).login(patient)
    Auth(pc, db).post(f"/e/{enrolment.id}/pain-physiology/done", {}, f"/e/{enrolment.id}/pain-physiology/1")
    after = db.session.scalars(select(Dispatch.form_id).where(Dispatch.purpose == "after")).all()
    assert sorted(after) == ["managing-pain", "peg"]


def test_clinician_sees_item_answers_and_can_remind_now(setup, db):
    s = setup
    _send(s, db)
    _send(s, db, "gad-7")
    dispatches = db.session.scalars(select(Dispatch).order_by(Dispatch.id)).all()
    url = f"/e/{s['e'].id}/questionnaires/{dispatches[0].id}"
    answers = {f"q{n}": "0" for n in range(1, 10)} | {"q2": "2", "action": "submit"}
    Auth(s["pc"], db).post(url, answers, url)
    page = s["sc"].get(f"/clinician/enrolments/{s['e'].id}/outcomes").get_data(as_text=True)
    assert "Känt dig nedstämd, deprimerad eller känt att framtiden ser hopplös ut" in page
    assert "2 – Mer än hälften av dagarna" in page
    base = f"/clinician/enrolments/{s['e'].id}"
    db.session.execute(OutboxItem.__table__.delete())
    db.session.commit()
    Auth(s["sc"], db).post(f"{base}/questionnaires/{dispatches[1].id}/remind", {}, base)
    assert [o.kind for o in db.session.scalars(select(OutboxItem))] == ["questionnaire_reminder"]
    assert db.session.get(Dispatch, dispatches[1].id).reminders_sent == 1
    # An answered one is not reminded about.
    Auth(s["sc"], db).post(f"{base}/questionnaires/{dispatches[0].id}/remind", {}, base)
    assert db.session.get(Dispatch, dispatches[0].id).reminders_sent == 0
