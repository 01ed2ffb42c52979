"""Closed-loop safety alerts: raised by a safety answer, acknowledged by the care unit with a
note, escalated after working hours to the unit's opted-in clinicians, never seen by another unit."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import Auth
from webapp.core.audit import AccessLogEntry
from webapp.core.dates import STOCKHOLM, to_local
from webapp.notifications.models import NotificationConsent, OutboxItem
from webapp.notifications.services import render
from webapp.programme.models import EnrolmentEvent
from webapp.questionnaires.alerts import raise_alert
from webapp.questionnaires.jobs import escalate_safety_alerts

# Monday 7 December 2026, 10:00 in Stockholm: four working hours later is 14:00.
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=STOCKHOLM)


def _opt_in(db, user, *channels):
    for channel in channels:
        db.session.add(NotificationConsent(user_id=user.id, kind="safety_escalation", channel=channel,
                                           is_enabled=True, consented_at=MONDAY_10))
    db.session.commit()


@pytest.fixture
def units(app, db, make):
    """Unit A with a responsible clinician, two colleagues (one opted in with SMS too) and one who did
    not opt in; unit B with an opted-in clinician. A patient of unit A."""
    a, b = make.unit(name="Vårdcentralen A"), make.unit(name="Vårdcentralen B")
    responsible = make.user("clinician", units=[a], name="Ansvarig Behandlare")
    colleague = make.user("clinician", units=[a], phone="+46701740611")
    colleague.phone_verified_at = MONDAY_10
    quiet = make.user("clinician", units=[a])
    other_unit = make.user("clinician", units=[b])
    _opt_in(db, colleague, "email", "sms")
    _opt_in(db, other_unit, "email")
    patient = make.user("patient", name="Hemlig Patientsson", personal_number="191212121212")
    enrolment = make.enrolment(patient, a, responsible)
    return {"a": a, "b": b, "responsible": responsible, "colleague": colleague, "quiet": quiet,
            "other_unit": other_unit, "patient": patient, "enrolment": enrolment}


def _outbox(db, kind):
    return sorted((o.address, o.channel) for o in db.session.scalars(select(OutboxItem).where(OutboxItem.kind == kind)))


def test_the_responsible_clinician_is_told_at_once_and_the_unit_after_four_working_hours(app, db, units):
    alert = raise_alert(units["enrolment"], None, now=MONDAY_10)
    db.session.commit()
    assert to_local(alert.escalate_at).replace(tzinfo=None) == datetime(2026, 12, 7, 14, 0)
    assert _outbox(db, "safety_flag") == [(units["responsible"].email, "email")]

    assert escalate_safety_alerts(now=MONDAY_10 + timedelta(hours=3, minutes=59)) == 0
    assert _outbox(db, "safety_escalation") == []

    assert escalate_safety_alerts(now=MONDAY_10 + timedelta(hours=4)) == 1
    # Only unit A's clinicians who opted in; the other unit's never.
    assert _outbox(db, "safety_escalation") == sorted([(units["colleague"].email, "email"),
                                                       ("+46701740611", "sms")])
    assert escalate_safety_alerts(now=MONDAY_10 + timedelta(hours=5)) == 0  # told once
    assert len(_outbox(db, "safety_escalation")) == 2


def test_no_escalation_over_the_weekend_and_none_once_acknowledged(app, db, units, client):
    friday_16 = datetime(2026, 12, 4, 16, 0, tzinfo=STOCKHOLM)
    alert = raise_alert(units["enrolment"], None, now=friday_16)
    db.session.commit()
    # One hour on Friday, three on Monday morning.
    assert to_local(alert.escalate_at).replace(tzinfo=None) == datetime(2026, 12, 7, 11, 0)
    assert escalate_safety_alerts(now=datetime(2026, 12, 6, 20, 0, tzinfo=STOCKHOLM)) == 0
    Auth(client, db).login(units["quiet"])
    url = f"/clinician/alerts/{alert.id}"
    assert Auth(client, db).post(url, {"note": "Ringde patienten"}, url).status_code == 302
    assert escalate_safety_alerts(now=datetime(2026, 12, 7, 12, 0, tzinfo=STOCKHOLM)) == 0
    assert _outbox(db, "safety_escalation") == []


def test_an_sms_escalation_waits_out_the_quiet_hours_and_says_nothing_about_the_patient(app, db, units):
    alert = raise_alert(units["enrolment"], None, now=MONDAY_10)
    db.session.commit()
    # The scheduler was down all afternoon and runs at 22:30: e-mail now, the SMS at 08:00.
    late = datetime(2026, 12, 7, 22, 30, tzinfo=STOCKHOLM)
    assert escalate_safety_alerts(now=late) == 1
    items = {o.channel: o for o in db.session.scalars(select(OutboxItem).where(OutboxItem.kind == "safety_escalation"))}
    assert items["email"].due_at == late
    assert to_local(items["sms"].due_at).replace(tzinfo=None) == datetime(2026, 12, 8, 8, 0)
    db.session.refresh(alert)
    assert alert.escalated_at == late
    for item in items.values():
        text = render(item)
        written = f"{text.subject}\n{text.body}"
        for secret in ("Hemlig", "Patientsson", "19121212", "1212-1212", "PHQ", "Vårdcentralen", "Ansvarig"):
            assert secret not in written
        assert "/clinician/alerts" in written and f"/alerts/{alert.id}" not in written


def test_unit_b_never_sees_unit_a_alerts(app, db, units, client):
    alert = raise_alert(units["enrolment"], None, now=MONDAY_10)
    db.session.commit()
    auth = Auth(client, db)
    auth.login(units["other_unit"])
    assert client.get(f"/clinician/alerts/{alert.id}").status_code == 404
    assert auth.post(f"/clinician/alerts/{alert.id}", {"note": "x"}).status_code == 404
    overview = client.get("/clinician/alerts").get_data(as_text=True)
    assert "Hemlig" not in overview and f"/clinician/alerts/{alert.id}" not in overview
    assert "Hemlig" not in client.get("/clinician/").get_data(as_text=True)
    db.session.refresh(alert)
    assert alert.acknowledged_at is None


def test_acknowledging_records_who_when_and_the_note_in_history_and_access_log(app, db, units, client):
    alert = raise_alert(units["enrolment"], None, now=MONDAY_10)
    db.session.commit()
    auth = Auth(client, db)
    auth.login(units["colleague"])
    url = f"/clinician/alerts/{alert.id}"
    page = client.get(url)
    assert page.status_code == 200 and "Hemlig Patientsson" in page.get_data(as_text=True)
    # Without a note nothing changes, and the page says what is missing.
    refused = auth.post(url, {"note": ""}, url)
    assert refused.status_code == 400
    db.session.refresh(alert)
    assert alert.acknowledged_at is None
    note = "Ringde patienten, bokade besök i morgon <b>"
    assert auth.post(url, {"note": note}, url).status_code == 302
    db.session.refresh(alert)
    assert alert.acknowledged_by_id == units["colleague"].id and alert.note == note
    assert alert.acknowledged_at is not None
    event = db.session.scalars(select(EnrolmentEvent).where(EnrolmentEvent.kind == "safety_acknowledged")).one()
    assert (event.actor_id, event.detail) == (units["colleague"].id, note)
    logged = [(e.action, e.enrolment_id) for e in db.session.scalars(select(AccessLogEntry))]
    assert ("safety_alert.view", units["enrolment"].id) in logged
    assert ("safety_alert.acknowledge", units["enrolment"].id) in logged
    # The enrolment page's history shows the note (as text), the banner is gone.
    page = client.get(f"/clinician/enrolments/{units['enrolment'].id}/settings").get_data(as_text=True)
    assert "Ringde patienten, bokade besök i morgon &lt;b&gt;" in page
    assert f"/clinician/alerts/{alert.id}" not in client.get(f"/clinician/enrolments/{units['enrolment'].id}").get_data(as_text=True)
    # A second acknowledgement (a colleague's older tab) changes nothing.
    again = auth.post(url, {"note": "Något annat"}, url)
    assert again.status_code == 302
    db.session.refresh(alert)
    assert alert.note == note
    # The overview has it with its time to acknowledgement.
    overview = client.get("/clinician/alerts").get_data(as_text=True)
    assert "Hemlig Patientsson" in overview and "bokade besök" in overview


def test_a_clinician_turns_the_escalation_notice_on_in_their_settings(app, db, units, client):
    auth = Auth(client, db)
    auth.login(units["quiet"])
    page = client.get("/account/notifications")
    assert page.status_code == 200 and 'value="safety_escalation:email"' in page.get_data(as_text=True)
    assert "new_message:email" not in page.get_data(as_text=True)  # the patients' kinds are not offered
    auth.post("/account/notifications", {"choice": "safety_escalation:email"}, "/account/notifications")
    raise_alert(units["enrolment"], None, now=MONDAY_10)
    db.session.commit()
    escalate_safety_alerts(now=MONDAY_10 + timedelta(hours=4))
    assert (units["quiet"].email, "email") in _outbox(db, "safety_escalation")
