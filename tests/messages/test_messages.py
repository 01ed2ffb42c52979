"""Messages between patient and care team, and the notifications they cause,
delivered over a real SMTP server and a loopback SMS gateway."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import Auth
from webapp.core.db import utcnow
from webapp.core.mail import SmtpMailer
from webapp.core.sms import HttpSmsGateway
from webapp.messages.models import Message
from webapp.notifications.models import NotificationConsent, OutboxItem
from webapp.notifications.services import Channels, dispatch_due


@pytest.fixture
def people(app, make, db):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    colleague = make.user("clinician", units=[unit], name="Jonas Ek")
    patient = make.user("patient", name="Kim Exempelsson", locale="en", phone="+46701740605")
    enrolment = make.enrolment(patient, unit, clinician)
    patient_client, staff_client = app.test_client(), app.test_client()
    Auth(patient_client, db).login(patient)
    Auth(staff_client, db).login(clinician)
    return {"unit": unit, "clinician": clinician, "colleague": colleague, "patient": patient,
            "enrolment": enrolment, "pc": patient_client, "sc": staff_client}


def _channels(smtp_server=None, sms_gateway=None):
    return Channels(SmtpMailer("127.0.0.1", smtp_server.port, sender="lotsa@lotsa.example") if smtp_server else None,
                    HttpSmsGateway(sms_gateway.url, token="t") if sms_gateway else None)


def _post(client, db, url, body):
    return Auth(client, db).post(url, {"body": body}, url)


def _opt_in_sms(db, patient):
    patient.phone_verified_at = utcnow()
    db.session.add(NotificationConsent(user_id=patient.id, kind="new_message", channel="sms", is_enabled=True,
                                       consented_at=utcnow()))
    db.session.commit()


def test_patient_message_reaches_the_inbox_and_a_content_free_email(people, db, smtp_server):
    e = people["enrolment"]
    response = _post(people["pc"], db, f"/e/{e.id}/messages", "Ont i ryggen sedan i går, vad ska jag göra?")
    assert response.status_code == 302
    inbox = people["sc"].get("/clinician/inbox").get_data(as_text=True)
    assert "Kim Exempelsson" in inbox
    assert "1 väntar" in people["sc"].get("/clinician/").get_data(as_text=True)  # navigation count
    assert dispatch_due(_channels(smtp_server)) == 1
    (mail,) = smtp_server.sink.messages
    assert mail["To"] == people["clinician"].email
    body = mail.get_body(("plain",)).get_content()
    assert "ryggen" not in body and "Kim" not in body and "smärtskola" not in body.lower()
    assert f"/clinician/enrolments/{e.id}/messages" in body


def test_reply_reaches_the_patient_by_sms_in_their_language(people, db, sms_gateway):
    e = people["enrolment"]
    _opt_in_sms(db, people["patient"])
    _post(people["pc"], db, f"/e/{e.id}/messages", "Hej!")
    db.session.execute(OutboxItem.__table__.delete())
    db.session.commit()
    # A colleague answers while the responsible clinician is away.
    colleague_client = people["sc"].application.test_client()
    Auth(colleague_client, db).login(people["colleague"])
    _post(colleague_client, db, f"/clinician/enrolments/{e.id}/messages", "Hej Kim, vi ringer dig i morgon.")
    sms = db.session.scalars(select(OutboxItem).where(OutboxItem.channel == "sms")).one()
    sms.due_at = utcnow()  # the test may run during the quiet hours
    db.session.commit()
    assert dispatch_due(_channels(sms_gateway=sms_gateway)) == 1
    (request,) = sms_gateway.requests
    assert request["body"]["to"] == "+46701740605"
    assert request["body"]["message"].startswith("You have a new message in Lotsa")
    assert "ringer" not in request["body"]["message"]
    thread = people["pc"].get(f"/e/{e.id}/messages").get_data(as_text=True)
    assert "Jonas Ek" in thread and "vi ringer dig i morgon" in thread
    staff_view = people["sc"].get(f"/clinician/enrolments/{e.id}/messages").get_data(as_text=True)
    assert "Läst av patienten" in staff_view


def test_sms_waits_for_the_morning(people, db, sms_gateway):
    _opt_in_sms(db, people["patient"])
    from webapp.notifications.services import Kind, notify

    evening = datetime(2026, 11, 23, 21, 30, tzinfo=timezone.utc)  # 22:30 in Stockholm
    notify(people["patient"], Kind.NEW_MESSAGE, {"url": "http://localhost/"}, channels=("sms",), due_at=evening)
    db.session.commit()
    item = db.session.scalars(select(OutboxItem)).one()
    assert item.due_at == datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)  # 08:00 in Stockholm
    assert dispatch_due(_channels(sms_gateway=sms_gateway), now=evening + timedelta(hours=2)) == 0
    assert dispatch_due(_channels(sms_gateway=sms_gateway), now=item.due_at + timedelta(minutes=1)) == 1


def test_no_sms_without_opt_in_or_confirmed_number(people, db):
    e = people["enrolment"]
    _post(people["sc"], db, f"/clinician/enrolments/{e.id}/messages", "Hej!")
    assert db.session.scalars(select(OutboxItem)).all() == []  # no consent: nothing sent
    db.session.add(NotificationConsent(user_id=people["patient"].id, kind="new_message", channel="sms",
                                       is_enabled=True, consented_at=utcnow()))
    db.session.commit()
    _post(people["sc"], db, f"/clinician/enrolments/{e.id}/messages", "Hej igen!")
    assert db.session.scalars(select(OutboxItem)).all() == []  # number not confirmed yet


def test_phone_confirmation_and_opt_in(people, db, sms_gateway):
    pc = people["pc"]
    auth = Auth(pc, db)
    auth.post("/account/phone/code", {}, "/account/notifications")
    item = db.session.scalars(select(OutboxItem)).one()
    assert item.due_at <= utcnow()  # a code the patient asked for is not held for the morning
    dispatch_due(_channels(sms_gateway=sms_gateway))
    code = "".join(ch for ch in sms_gateway.requests[0]["body"]["message"] if ch.isdigit())[:6]
    auth.post("/account/phone/verify", {"code": "000000" if code != "000000" else "111111"}, "/account/notifications")
    db.session.refresh(people["patient"])
    assert people["patient"].phone_verified_at is None
    auth.post("/account/phone/verify", {"code": code}, "/account/notifications")
    db.session.refresh(people["patient"])
    assert people["patient"].phone_verified_at is not None
    auth.post("/account/notifications", {"choice": ["new_message:sms", "new_message:email"]}, "/account/notifications")
    rows = db.session.scalars(select(NotificationConsent)).all()
    assert sorted((r.channel, r.is_enabled) for r in rows) == [("email", True), ("sms", True)]
    assert all(r.consented_at for r in rows)


def test_hostile_text_is_shown_as_text(people, db):
    e = people["enrolment"]
    _post(people["pc"], db, f"/e/{e.id}/messages",
          "<script>alert(1)</script> [x](javascript:alert(1)) javascript:alert(2) https://www.1177.se/smarta\nrad två")
    html = people["sc"].get(f"/clinician/enrolments/{e.id}/messages").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html
    assert '<a href="https://www.1177.se/smarta" rel="noopener noreferrer nofollow">' in html
    assert "<br>\nrad två" in html


def test_too_long_or_empty_message_keeps_the_draft(people, db):
    e = people["enrolment"]
    text = "å" * 5001
    response = _post(people["pc"], db, f"/e/{e.id}/messages", text)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "The message is too long" in html and text in html
    assert _post(people["pc"], db, f"/e/{e.id}/messages", "   ").status_code == 400
    assert db.session.scalars(select(Message)).all() == []


def test_other_enrolments_conversations_are_404(app, people, make, db):
    other_patient = make.user("patient")
    other = make.enrolment(other_patient, people["unit"], people["clinician"])
    assert people["pc"].get(f"/e/{other.id}/messages").status_code == 404
    assert _post(people["pc"], db, f"/e/{other.id}/messages", "hej").status_code == 404
    outsider = app.test_client()
    Auth(outsider, db).login(make.user("clinician", units=[make.unit()]))
    assert outsider.get(f"/clinician/enrolments/{people['enrolment'].id}/messages").status_code == 404
    assert db.session.scalars(select(Message)).all() == []


def test_posting_needs_csrf(people, db):
    e = people["enrolment"]
    response = people["pc"].post(f"/e/{e.id}/messages", data={"body": "hej"})
    assert response.status_code == 400
    assert db.session.scalars(select(Message)).all() == []


def test_closed_conversation_is_read_only_for_staff_and_hidden_from_the_patient(people, db):
    e = people["enrolment"]
    _post(people["pc"], db, f"/e/{e.id}/messages", "Tack för allt!")
    e.status = "closed"
    db.session.commit()
    assert people["pc"].get(f"/e/{e.id}/messages").status_code == 404
    html = people["sc"].get(f"/clinician/enrolments/{e.id}/messages").get_data(as_text=True)
    assert "Tack för allt!" in html and 'name="body"' not in html
    assert _post(people["sc"], db, f"/clinician/enrolments/{e.id}/messages", "Hej").status_code == 400
    assert people["pc"].get(f"/e/{e.id}/summary").status_code == 200


def test_handled_conversation_leaves_the_inbox(people, db):
    e = people["enrolment"]
    _post(people["pc"], db, f"/e/{e.id}/messages", "Bara en hälsning.")
    Auth(people["sc"], db).post(f"/clinician/enrolments/{e.id}/messages/handled", {})
    assert "Kim Exempelsson" not in people["sc"].get("/clinician/inbox").get_data(as_text=True)


def test_unread_count_for_the_patient(people, db):
    e = people["enrolment"]
    _post(people["sc"], db, f"/clinician/enrolments/{e.id}/messages", "Hej Kim!")
    home = people["pc"].get("/home").get_data(as_text=True)
    assert "1 new message" in home
    people["pc"].get(f"/e/{e.id}/messages")
    assert "new message" not in people["pc"].get("/home").get_data(as_text=True)
