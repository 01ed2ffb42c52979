"""Care plans (draft, share, agree, changes, summary, indicator) and follow-up
contacts (worklist, outcomes, reminders, bounded queries)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import Auth
from webapp.careplan.models import CarePlan, CarePlanVersion, FollowUpContact
from webapp.careplan.services import remind_contacts
from webapp.core.db import utcnow
from webapp.notifications.models import NotificationConsent, OutboxItem


@pytest.fixture
def s(app, make, db):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Kim Exempelsson")
    enrolment = make.enrolment(patient, unit, clinician, started_at=utcnow() - timedelta(days=3))
    sc, pc = app.test_client(), app.test_client()
    Auth(sc, db).login(clinician)
    Auth(pc, db).login(patient)
    return {"unit": unit, "clinician": clinician, "patient": patient, "e": enrolment, "sc": sc, "pc": pc}


def _plan_url(s):
    return f"/clinician/enrolments/{s['e'].id}/plan"


def _post_plan(s, db, action, **fields):
    return Auth(s["sc"], db).post(_plan_url(s), {"action": action, **fields}, _plan_url(s))


GOALS = {"goal_matters_0": "Att orka leka med barnbarnen", "goal_able_0": "Gå till parken och tillbaka",
         "goal_matters_1": "Arbetet", "goal_able_1": "Arbeta halvtid igen",
         "act_what_0": "Promenad tio minuter", "act_who_0": "patient", "act_when_0": "varje dag",
         "act_what_1": "Graderad träning", "act_who_1": "physiotherapist", "act_when_1": "tisdagar"}


def test_draft_share_agree_and_changes(s, db):
    # A draft with a bad date: 400, a clear message, and everything kept as a draft.
    page = _post_plan(s, db, "share", **GOALS, review_on="next week")
    assert page.status_code == 400 and "Skriv datumet som åååå-mm-dd." in page.get_data(as_text=True)
    plan = db.session.scalars(select(CarePlan)).one()
    assert "barnbarnen" in plan.draft and plan.versions == []
    # The edit page shows the draft again.
    assert "Gå till parken och tillbaka" in s["sc"].get(_plan_url(s)).get_data(as_text=True)
    # The patient does not see a draft.
    assert s["pc"].get(f"/e/{s['e'].id}/plan").status_code == 404

    assert _post_plan(s, db, "share", **GOALS, review_on="2027-03-01").status_code == 302
    version = db.session.scalars(select(CarePlanVersion)).one()
    assert version.number == 1 and version.agreed_at is None
    home = s["pc"].get("/home").get_data(as_text=True)
    assert "Arbeta halvtid igen" in home and "Läs, godkänn eller skriv ut min plan" in home
    page = s["pc"].get(f"/e/{s['e'].id}/plan").get_data(as_text=True)
    # Typed text is isolated (<bdi>) so a right-to-left name or phrase cannot reorder the line.
    assert "<bdi>Promenad tio minuter</bdi> – Patienten (<bdi>varje dag</bdi>)" in page and "Jag godkänner planen" in page

    Auth(s["pc"], db).post(f"/e/{s['e'].id}/plan/agree", {"version": "1"}, f"/e/{s['e'].id}/plan")
    db.session.refresh(version)
    assert version.agreed_at is not None and version.agreed_by_id == s["patient"].id

    # Version 2 drops a goal and adds one; the patient sees what changed and agrees again.
    changed = {**GOALS, "goal_matters_1": "Sömnen", "goal_able_1": "Sova hela natten"}
    _post_plan(s, db, "share", **changed)
    # Agreeing to the old version number is refused: the plan changed since it was read.
    Auth(s["pc"], db).post(f"/e/{s['e'].id}/plan/agree", {"version": "1"}, f"/e/{s['e'].id}/plan")
    latest = db.session.scalars(select(CarePlanVersion).where(CarePlanVersion.number == 2)).one()
    assert latest.agreed_at is None
    page = s["pc"].get(f"/e/{s['e'].id}/plan").get_data(as_text=True)
    assert "Nytt mål: Sömnen" in page and "Mål som tagits bort: Arbetet" in page
    summary = s["pc"].get(f"/e/{s['e'].id}/summary").get_data(as_text=True)
    assert "Min vårdplan" in summary and "Sova hela natten" in summary


def test_hostile_text_in_a_plan_is_shown_as_text(s, db):
    _post_plan(s, db, "share", goal_matters_0="<script>alert(1)</script>", goal_able_0="<b>fet</b>")
    page = s["pc"].get(f"/e/{s['e'].id}/plan").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_plans_follow_care_relations(app, s, make, db):
    _post_plan(s, db, "share", **GOALS)
    other_patient = app.test_client()
    Auth(other_patient, db).login(make.user("patient"))
    assert other_patient.get(f"/e/{s['e'].id}/plan").status_code == 404
    outsider = app.test_client()
    Auth(outsider, db).login(make.user("clinician", units=[make.unit()]))
    assert outsider.get(_plan_url(s)).status_code == 404


def test_plan_indicator_in_the_aggregate_follow_up(s, db):
    from webapp.admin.services import follow_up
    from webapp.content.services import get_catalogue

    _post_plan(s, db, "share", **GOALS)
    (row,) = follow_up([s["unit"]], get_catalogue())
    assert row.plan_agreed_share == 0.0
    Auth(s["pc"], db).post(f"/e/{s['e'].id}/plan/agree", {"version": "1"}, f"/e/{s['e'].id}/plan")
    (row,) = follow_up([s["unit"]], get_catalogue())
    assert row.plan_agreed_share == 100.0


def _contact(s, db, days, **kw):
    contact = FollowUpContact(enrolment_id=s["e"].id, kind="phone", due_at=utcnow() + timedelta(days=days),
                              purpose=kw.pop("purpose", "Hur går promenaderna?"), created_by_id=s["clinician"].id, **kw)
    db.session.add(contact)
    db.session.commit()
    return contact


def test_worklist_shows_today_and_overdue_and_outcomes_take_them_off(s, db):
    url = f"/clinician/enrolments/{s['e'].id}/contacts"
    response = Auth(s["sc"], db).post(url, {"kind": "video", "day": (utcnow() - timedelta(days=2)).date().isoformat(),
                                            "time": "10:00", "purpose": "Uppföljning av målen"}, "/clinician/follow-ups")
    assert response.status_code == 302
    overdue = db.session.scalars(select(FollowUpContact)).one()
    later = _contact(s, db, 5, purpose="Nästa månad")
    page = s["sc"].get("/clinician/follow-ups").get_data(as_text=True)
    assert "Uppföljning av målen" in page and "Försenat" in page and "Nästa månad" not in page

    Auth(s["sc"], db).post(f"/clinician/contacts/{overdue.id}/outcome",
                           {"outcome": "kept", "note": "Bra samtal", "rating": "6", "back": "worklist"},
                           "/clinician/follow-ups")
    db.session.refresh(overdue)
    assert (overdue.outcome, overdue.rating) == ("kept", 6)
    assert "Uppföljning av målen" not in s["sc"].get("/clinician/follow-ups").get_data(as_text=True)

    missed = _contact(s, db, -1, purpose="Missat samtal")
    Auth(s["sc"], db).post(f"/clinician/contacts/{missed.id}/outcome", {"outcome": "missed", "back": "worklist"},
                           "/clinician/follow-ups")
    page = s["sc"].get("/clinician/follow-ups").get_data(as_text=True)
    assert "Missat samtal" in page.split("Missade de senaste 30 dagarna")[1]
    # A bad rating is refused and nothing is recorded.
    Auth(s["sc"], db).post(f"/clinician/contacts/{later.id}/outcome", {"outcome": "kept", "rating": "eleven"},
                           "/clinician/follow-ups")
    db.session.refresh(later)
    assert later.outcome is None
    # The patient sees the planned one on the start page.
    assert "Nästa månad" not in s["pc"].get("/home").get_data(as_text=True)  # purpose is for staff
    assert "Telefonsamtal" in s["pc"].get("/home").get_data(as_text=True)


def test_worklist_query_count_is_the_same_for_1_and_50_contacts(s, db, make, count_queries):
    _contact(s, db, -1)
    with count_queries() as one:
        assert s["sc"].get("/clinician/follow-ups").status_code == 200
    for n in range(49):
        enrolment = make.enrolment(make.user("patient"), s["unit"], s["clinician"])
        db.session.add(FollowUpContact(enrolment_id=enrolment.id, kind="visit", due_at=utcnow() - timedelta(hours=n),
                                       purpose=f"Om målen {n}", created_by_id=s["clinician"].id))
    db.session.commit()
    with count_queries() as fifty:
        page = s["sc"].get("/clinician/follow-ups").get_data(as_text=True)
    assert page.count("Om målen ") == 49
    assert fifty.count == one.count


def test_contact_reminder_goes_the_day_before_to_opted_in_patients_once(s, db):
    contact = _contact(s, db, 0)
    contact.due_at = utcnow() + timedelta(hours=20)
    db.session.commit()
    assert remind_contacts() == 0  # not opted in
    db.session.add(NotificationConsent(user_id=s["patient"].id, kind="contact_reminder", channel="email",
                                       is_enabled=True, consented_at=utcnow()))
    db.session.commit()
    assert remind_contacts() == 1
    assert remind_contacts() == 0
    db.session.commit()
    (item,) = db.session.scalars(select(OutboxItem).where(OutboxItem.kind == "contact_reminder")).all()
    assert item.address == s["patient"].email and item.payload == "{}" or "Hur går" not in item.payload
