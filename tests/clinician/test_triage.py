"""The caseload triages: open safety alerts, then patients waiting for the clinician, then the
inactive, then the rest; each row says why in words; behind-schedule and waiting-for-feedback filters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.plugin import Auth
from webapp.clinician.services import CaseloadFilters, caseload
from webapp.core.db import utcnow
from webapp.messages.models import Conversation, Message
from webapp.programme.models import Answer, ModuleProgress
from webapp.questionnaires.models import SafetyAlert


@pytest.fixture
def caseload_world(app, db, make):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    now = utcnow()
    e = {}

    def enrol(name, **kw):
        e[name] = make.enrolment(make.user("patient", name=name), unit, clinician, **kw)
        return e[name]

    # Created in the reverse of the expected order, so "newest first" would put them the other way round.
    enrol("Resten", started_at=now - timedelta(days=40), last_active_at=now)
    db.session.add(Message(enrolment_id=e["Resten"].id, author_id=clinician.id, side="staff", body="Hej",
                           created_at=now - timedelta(hours=1)))
    db.session.add(Answer(enrolment_id=e["Resten"].id, module_id="m1", block_id="b1", kind="reflection", text="x",
                          updated_at=now - timedelta(days=2)))
    enrol("Inaktiv", started_at=now - timedelta(days=39), last_active_at=now - timedelta(days=30))
    db.session.add(Message(enrolment_id=e["Inaktiv"].id, author_id=clinician.id, side="staff", body="Hej",
                           created_at=now - timedelta(days=31)))
    enrol("Svarat", started_at=now - timedelta(days=38), last_active_at=now)
    db.session.add(Message(enrolment_id=e["Svarat"].id, author_id=clinician.id, side="staff", body="Hej",
                           created_at=now - timedelta(days=3)))
    db.session.add(ModuleProgress(enrolment_id=e["Svarat"].id, module_id="m1", completed_at=now - timedelta(days=1)))
    enrol("Meddelande", started_at=now - timedelta(days=37), last_active_at=now)
    db.session.add(Message(enrolment_id=e["Meddelande"].id, author_id=clinician.id, side="staff", body="Hej",
                           created_at=now - timedelta(days=3)))
    db.session.add(Conversation(enrolment_id=e["Meddelande"].id, unread_for_staff=1, unread_for_patient=0))
    enrol("Säker", started_at=now - timedelta(days=36), last_active_at=now - timedelta(days=30))
    db.session.add(Message(enrolment_id=e["Säker"].id, author_id=clinician.id, side="staff", body="Hej",
                           created_at=now - timedelta(days=31)))
    db.session.add(SafetyAlert(enrolment_id=e["Säker"].id, escalate_at=now, note=""))
    db.session.commit()
    return {"unit": unit, "clinician": clinician, "e": e}


def test_default_order_puts_safety_first_and_says_why(app, db, caseload_world):
    rows, total = caseload(caseload_world["clinician"], CaseloadFilters())
    assert total == 5
    assert [(r.enrolment.patient.full_name, r.flags) for r in rows] == [
        ("Säker", ["safety", "inactive"]),
        ("Meddelande", ["message"]),
        ("Svarat", ["feedback"]),
        ("Inaktiv", ["inactive"]),
        ("Resten", []),
    ]


def test_acknowledged_alerts_no_longer_lift_the_row(app, db, caseload_world):
    alert = db.session.query(SafetyAlert).one()
    alert.acknowledged_at = utcnow()
    db.session.commit()
    rows, _total = caseload(caseload_world["clinician"], CaseloadFilters())
    assert rows[0].enrolment.patient.full_name == "Meddelande"
    assert "safety" not in next(r for r in rows if r.enrolment.patient.full_name == "Säker").flags


def test_waiting_for_feedback_filter(app, db, caseload_world):
    rows, total = caseload(caseload_world["clinician"], CaseloadFilters(feedback=True))
    assert [r.enrolment.patient.full_name for r in rows] == ["Svarat"] and total == 1


def test_behind_schedule_filter_follows_the_schedule(app, db, caseload_world, make):
    """The weekly pain school: 40 days in, modules 1-6 are open, 1-4 for more than 14 days."""
    world = caseload_world
    rows, total = caseload(world["clinician"], CaseloadFilters(behind=True), behind_days=14)
    assert total == 5  # nobody has finished anything that opened more than two weeks ago
    # Someone who started 10 days ago is not behind: nothing has been open for 14 days.
    make.enrolment(make.user("patient", name="Ny"), world["unit"], world["clinician"],
                   started_at=utcnow() - timedelta(days=10))
    rows, total = caseload(world["clinician"], CaseloadFilters(behind=True), behind_days=14)
    assert "Ny" not in [r.enrolment.patient.full_name for r in rows] and total == 5
    # With a long enough limit nobody is behind.
    assert caseload(world["clinician"], CaseloadFilters(behind=True), behind_days=60)[1] == 0


def test_the_page_says_why_in_words_and_marks_the_safety_row(app, db, caseload_world, client):
    Auth(client, db).login(caseload_world["clinician"])
    html = client.get("/clinician/").get_data(as_text=True)
    first_row = html.split("<tbody>")[1].split("</tr>")[0]
    assert 'class="is-safety"' in first_row and "Säker" in first_row
    assert "flag-safety" in first_row and "flag-message" not in first_row
    names = [html.index(f"<bdi>{name}</bdi>") for name in ("Säker", "Meddelande", "Svarat", "Inaktiv", "Resten")]
    assert names == sorted(names)
    filtered = client.get("/clinician/?feedback=1").get_data(as_text=True)
    assert "Svarat" in filtered and "Meddelande" not in filtered
    assert client.get("/clinician/?behind=1&sort=name").status_code == 200
