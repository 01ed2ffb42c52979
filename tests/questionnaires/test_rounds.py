"""Recipient lists, later sends, "N days after the start" measures, the patient's
own results and the before/after figures of the aggregate follow-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.fixtures.plugin import Auth
from webapp.core.audit import AccessLogEntry
from webapp.core.db import utcnow
from webapp.notifications.models import OutboxItem
from webapp.questionnaires.jobs import release_scheduled, remind_unanswered, send_day_measures
from webapp.questionnaires.models import Dispatch, Round, Submission

ROUNDS = "/clinician/questionnaires"


@pytest.fixture
def unit_of_three(app, make, db):
    """A unit with three active pain-school patients, one ACT patient, one closed and one elsewhere."""
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patients = [make.user("patient", name=f"Patient {n}") for n in range(3)]
    enrolments = [make.enrolment(p, unit, clinician) for p in patients]
    act = make.enrolment(make.user("patient", name="Act Patient"), unit, clinician, programme="act-long-term-pain")
    closed = make.enrolment(make.user("patient", name="Closed Patient"), unit, clinician, status="closed")
    elsewhere = make.enrolment(make.user("patient", name="Other Unit"), make.unit(), None)
    client = app.test_client()
    Auth(client, db).login(clinician)
    db.session.execute(OutboxItem.__table__.delete())
    db.session.commit()
    return {"unit": unit, "clinician": clinician, "patients": patients, "enrolments": enrolments, "act": act,
            "closed": closed, "elsewhere": elsewhere, "client": client}


def _post(s, db, **data):
    return Auth(s["client"], db).post(ROUNDS, {"form_id": "phq-9", "unit_id": str(s["unit"].id), **data}, ROUNDS)


def test_send_to_everyone_active_in_a_programme(unit_of_three, db):
    s = unit_of_three
    response = _post(s, db, to="programme", programme_id="pain-school")
    assert response.status_code == 302
    round_ = db.session.scalars(select(Round)).one()
    assert response.location.endswith(f"/clinician/questionnaires/rounds/{round_.id}")
    sent_to = set(db.session.scalars(select(Dispatch.enrolment_id).where(Dispatch.round_id == round_.id)))
    assert sent_to == {e.id for e in s["enrolments"]}  # not the ACT, closed or other-unit patients
    told = db.session.scalars(select(OutboxItem.address).where(OutboxItem.kind == "questionnaire_waiting")).all()
    assert sorted(told) == sorted(p.email for p in s["patients"])


def test_send_to_chosen_patients_and_refuse_those_of_another_unit(unit_of_three, db):
    s = unit_of_three
    chosen = [str(s["enrolments"][0].id), str(s["act"].id)]
    assert _post(s, db, to="chosen", enrolment_id=chosen).status_code == 302
    assert sorted(db.session.scalars(select(Dispatch.enrolment_id))) == sorted(int(c) for c in chosen)

    page = _post(s, db, to="chosen", enrolment_id=[str(s["elsewhere"].id)], due_on="2001-01-01")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Välj patienter som är aktiva på den valda vårdenheten." in html
    assert "Sista svarsdagen måste vara samma dag som utskicket eller senare." in html
    assert 'value="2001-01-01"' in html  # what was typed is kept
    assert db.session.scalar(select(func.count(Dispatch.id))) == 2

    page = _post(s, db, to="chosen")
    assert page.status_code == 400 and "Välj minst en patient." in page.get_data(as_text=True)


def test_a_large_release_commits_in_batches_and_tells_each_patient_once(app, make, db, monkeypatch):
    from sqlalchemy import event

    from webapp.questionnaires import jobs

    monkeypatch.setattr(jobs, "BATCH_SIZE", 3)
    unit = make.unit()
    later = utcnow() + timedelta(days=2)
    for _n in range(7):
        enrolment = make.enrolment(make.user("patient"), unit, None)
        db.session.add(Dispatch(enrolment_id=enrolment.id, form_id="phq-9", send_at=later))
    db.session.execute(OutboxItem.__table__.delete())
    db.session.commit()
    commits = []

    def count(_session):
        commits.append(1)

    session = db.session()  # the request's Session behind the scoped proxy
    event.listen(session, "after_commit", count)
    try:
        assert release_scheduled(now=later + timedelta(hours=1)) == 7
    finally:
        event.remove(session, "after_commit", count)
    # 3 + 3 + 1: no transaction held more than a batch of questionnaires.
    assert len(commits) == 3
    assert release_scheduled(now=later + timedelta(hours=2)) == 0
    kinds = [o.kind for o in db.session.scalars(select(OutboxItem))]
    assert kinds == ["questionnaire_waiting"] * 7


def test_a_later_send_is_hidden_and_silent_until_its_day(app, unit_of_three, db):
    s = unit_of_three
    day = (utcnow() + timedelta(days=3)).date().isoformat()
    _post(s, db, to="chosen", enrolment_id=[str(s["enrolments"][0].id)], send_on=day)
    dispatch = db.session.scalars(select(Dispatch)).one()
    assert dispatch.notified_at is None and db.session.scalars(select(OutboxItem)).all() == []

    patient = app.test_client()
    Auth(patient, db).login(s["patients"][0])
    assert "PHQ-9" not in patient.get("/home").get_data(as_text=True)
    assert patient.get(f"/e/{dispatch.enrolment_id}/questionnaires/{dispatch.id}").status_code == 404
    assert remind_unanswered(now=utcnow() + timedelta(days=2)) == 0

    assert release_scheduled(now=utcnow() + timedelta(days=1)) == 0
    assert release_scheduled(now=utcnow() + timedelta(days=4)) == 1
    assert release_scheduled(now=utcnow() + timedelta(days=5)) == 0  # told once only
    db.session.commit()
    assert [o.kind for o in db.session.scalars(select(OutboxItem))] == ["questionnaire_waiting"]


def test_round_page_shows_answered_waiting_and_overdue_and_is_unit_bound(app, unit_of_three, make, db):
    s = unit_of_three
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    _post(s, db, to="programme", programme_id="pain-school", due_on=tomorrow)
    round_ = db.session.scalars(select(Round)).one()
    first, second, _third = db.session.scalars(select(Dispatch).order_by(Dispatch.enrolment_id)).all()
    db.session.add(Submission(dispatch_id=first.id, enrolment_id=first.enrolment_id, form_id="phq-9", answers="{}",
                            total=7, band="Mild"))
    first.answered_at = utcnow()
    second.due_at = utcnow() - timedelta(hours=1)
    db.session.commit()

    overview = s["client"].get(ROUNDS).get_data(as_text=True)
    assert "1 / 3" in overview  # answered
    detail = s["client"].get(f"{ROUNDS}/rounds/{round_.id}").get_data(as_text=True)
    assert "Patient 0" in detail and "Lindrig" in detail and "Försenat" in detail and "Väntar" in detail
    assert db.session.scalars(select(AccessLogEntry.action).where(AccessLogEntry.action == "questionnaires.round")).all()

    # Remind from the round page and come back to it.
    url = f"/clinician/enrolments/{second.enrolment_id}/questionnaires/{second.id}/remind"
    back = Auth(s["client"], db).post(url, {"back": "round"}, f"{ROUNDS}/rounds/{round_.id}")
    assert back.location.endswith(f"/rounds/{round_.id}")
    assert db.session.get(Dispatch, second.id).reminders_sent == 1

    outsider = app.test_client()
    Auth(outsider, db).login(make.user("clinician", units=[make.unit()]))
    assert outsider.get(f"{ROUNDS}/rounds/{round_.id}").status_code == 404
    assert "Patient 0" not in outsider.get(ROUNDS).get_data(as_text=True)


def test_round_overview_query_count_does_not_grow_with_rounds(unit_of_three, db, count_queries):
    s = unit_of_three
    _post(s, db, to="programme", programme_id="pain-school")
    with count_queries() as one:
        assert s["client"].get(ROUNDS).status_code == 200
    for _ in range(10):
        _post(s, db, to="programme", programme_id="pain-school")
    with count_queries() as many:
        assert s["client"].get(ROUNDS).status_code == 200
    assert many.count == one.count


def test_measures_n_days_after_the_start_go_out_once(app, make, db):
    unit = make.unit()
    early = make.enrolment(make.user("patient"), unit, started_at=utcnow() - timedelta(days=10))
    due = make.enrolment(make.user("patient"), unit, started_at=utcnow() - timedelta(days=181))
    make.enrolment(make.user("patient"), unit, status="closed", started_at=utcnow() - timedelta(days=200))
    make.enrolment(make.user("patient"), unit, started_at=utcnow() - timedelta(days=400))  # long past: not measured
    assert send_day_measures() == 1
    db.session.commit()
    dispatch = db.session.scalars(select(Dispatch)).one()
    assert (dispatch.enrolment_id, dispatch.form_id, dispatch.purpose) == (due.id, "managing-pain", "day-180")
    assert send_day_measures() == 0
    assert early.id != dispatch.enrolment_id


def test_patient_sees_own_results_over_time_only_where_the_form_allows(app, make, db):
    unit = make.unit()
    patient = make.user("patient")
    enrolment = make.enrolment(patient, unit)
    client = app.test_client()
    auth = Auth(client, db)
    auth.login(patient)
    from webapp.content.services import get_catalogue
    from webapp.questionnaires.services import send

    forms = get_catalogue().forms
    for value in ("3", "6"):
        dispatch = send(enrolment, forms["managing-pain"], None)
        db.session.commit()
        url = f"/e/{enrolment.id}/questionnaires/{dispatch.id}"
        done = auth.post(url, {"q1": value, "action": "submit"}, url)
    html = client.get(done.location).get_data(as_text=True)
    assert "Dina svar över tid" in html and '<svg class="chart"' in html
    assert "Ditt resultat den här gången: 6" in html and "Första gången: 3." in html

    dispatch = send(enrolment, forms["phq-9"], None)
    db.session.commit()
    url = f"/e/{enrolment.id}/questionnaires/{dispatch.id}"
    done = auth.post(url, {f"q{n}": "0" for n in range(1, 10)} | {"action": "submit"}, url)
    assert "Dina svar över tid" not in client.get(done.location).get_data(as_text=True)


def test_follow_up_shows_before_and_after_change(app, make, db):
    from webapp.admin.services import follow_up
    from webapp.content.services import get_catalogue

    unit = make.unit()
    catalogue = get_catalogue()
    for before, after in [(2, 6), (4, 5), (5, 3)]:  # managing pain: higher is better, threshold 2
        enrolment = make.enrolment(make.user("patient"), unit)
        for purpose, total in (("before", before), ("after", after)):
            dispatch = Dispatch(enrolment_id=enrolment.id, form_id="managing-pain", purpose=purpose,
                                answered_at=utcnow())
            db.session.add(dispatch)
            db.session.flush()
            db.session.add(Submission(dispatch_id=dispatch.id, enrolment_id=enrolment.id, form_id="managing-pain",
                                    answers="{}", total=total))
    db.session.commit()
    (row,) = follow_up([unit], catalogue)
    (outcome,) = row.outcomes
    assert (outcome.pairs, outcome.mean_before, outcome.mean_after) == (3, 3.7, 4.7)
    assert outcome.improved_share == 33.3  # only 2 -> 6; 5 -> 3 is a meaningful change the wrong way


def test_an_untouched_slider_is_not_an_answer(app, make, db, monkeypatch):
    """A range input always has a value; the answer lives in the number field beside it."""
    from pathlib import Path

    from webapp.content.questionnaires import load_questionnaires
    from webapp.content.services import get_catalogue
    from webapp.questionnaires.services import send

    forms, problems = load_questionnaires(Path(__file__).parent / "fixtures" / "vas")
    assert problems == []
    monkeypatch.setitem(get_catalogue().forms, "pain-vas", forms["pain-vas"])
    patient = make.user("patient")
    enrolment = make.enrolment(patient, make.unit())
    dispatch = send(enrolment, forms["pain-vas"], None)
    db.session.commit()
    client = app.test_client()
    auth = Auth(client, db)
    auth.login(patient)
    url = f"/e/{enrolment.id}/questionnaires/{dispatch.id}"
    html = client.get(url).get_data(as_text=True)
    assert 'type="range" id="vas-range" min="0" max="100"' in html and 'name="vas"' not in html.split('type="range"')[1].split(">")[0]
    assert 'type="number" id="vas-n" name="vas"' in html
    assert auth.post(url, {"action": "submit"}, url).status_code == 400  # nothing sent: required, not 50
    done = auth.post(url, {"vas": "37", "action": "submit"}, url)
    assert done.status_code == 302
    assert db.session.scalars(select(Submission.total)).one() == 37
