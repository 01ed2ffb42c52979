"""The outbox: rows written with the event, delivered by the scheduler over real
SMTP and a real HTTP SMS gateway, retried with backoff, never sent twice."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from webapp.core.db import utcnow
from webapp.core.mail import SmtpMailer
from webapp.core.sms import HttpSmsGateway
from webapp.extensions import db as _db
from webapp.notifications.models import OutboxItem
from webapp.notifications.services import Channels, Kind, claim_due, dispatch_due, next_sms_time, notify

LINK = "http://localhost/auth/reset/abc"


def _channels(app, smtp_server=None, sms_gateway=None):
    mailer = SmtpMailer("127.0.0.1", smtp_server.port, sender=app.config["MAIL_FROM"]) if smtp_server else None
    sms = HttpSmsGateway(sms_gateway.url, token="secret-token") if sms_gateway else None
    return Channels(mailer, sms)


def _sms_time():
    """Now, or the end of tonight's SMS quiet hours (non-urgent SMS wait for the morning)."""
    return next_sms_time(utcnow()) + timedelta(seconds=1)


def test_email_is_delivered_in_the_recipients_language(app, db, make, smtp_server):
    swede = make.user("patient", locale="sv")
    english = make.user("patient", locale="en")
    for user in (swede, english):
        notify(user, Kind.PASSWORD_RESET, {"url": LINK, "minutes": 60})
    db.session.commit()
    assert dispatch_due(_channels(app, smtp_server)) == 2
    by_to = {m["To"]: m for m in smtp_server.sink.messages}
    assert by_to[swede.email]["Subject"] == "Välj ett nytt lösenord för Lotsa"
    assert by_to[english.email]["Subject"] == "Choose a new password for Lotsa"
    assert LINK in by_to[english.email].get_body(("plain",)).get_content()
    rows = db.session.scalars(select(OutboxItem)).all()
    assert {r.status for r in rows} == {"sent"} and {r.payload for r in rows} == {"{}"}


def test_sms_goes_to_the_gateway(app, db, make, sms_gateway):
    patient = make.user("patient", phone="+46701740605", locale="en")
    notify(patient, Kind.INVITATION, {"url": LINK, "days": 14}, channels=("sms",))
    db.session.commit()
    # Deliver when the SMS quiet hours allow, so the test passes at any time of day.
    assert dispatch_due(_channels(app, sms_gateway=sms_gateway), now=_sms_time()) == 1
    (request,) = sms_gateway.requests
    assert request["body"]["to"] == "+46701740605"
    assert LINK in request["body"]["message"]
    assert request["authorization"] == "Bearer secret-token"


def test_a_rolled_back_request_tells_nobody(app, db, make):
    patient = make.user("patient")
    notify(patient, Kind.PASSWORD_RESET, {"url": LINK})
    db.session.rollback()
    assert db.session.scalars(select(OutboxItem)).all() == []


def test_failed_delivery_is_retried_with_backoff(app, db, make, smtp_server):
    patient = make.user("patient")
    notify(patient, Kind.PASSWORD_RESET, {"url": LINK})
    db.session.commit()
    down = Channels(SmtpMailer("127.0.0.1", 1, sender="x@lotsa.example", timeout=2))
    assert dispatch_due(down) == 0
    item = db.session.scalars(select(OutboxItem)).one()
    assert item.status == "pending" and item.attempts == 1 and item.last_error
    assert item.due_at > utcnow() + timedelta(seconds=20)
    assert dispatch_due(_channels(app, smtp_server)) == 0  # not due yet
    item.due_at = utcnow()
    db.session.commit()
    assert dispatch_due(_channels(app, smtp_server)) == 1
    assert json.loads(db.session.get(OutboxItem, item.id).payload) == {}


def test_gateway_refusal_is_permanent(app, db, make, sms_gateway):
    patient = make.user("patient", phone="+46701740605")
    notify(patient, Kind.INVITATION, {"url": LINK}, channels=("sms",))
    db.session.commit()
    sms_gateway.fail_with = 400
    dispatch_due(_channels(app, sms_gateway=sms_gateway), now=_sms_time())
    assert db.session.scalars(select(OutboxItem.status)).one() == "failed"


def test_gives_up_after_max_attempts(app, db, make):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    patient = make.user("patient")
    notify(patient, Kind.PASSWORD_RESET, {"url": LINK})
    db.session.commit()
    unconfigured = Channels()
    for _ in range(2):
        dispatch_due(unconfigured)
        item = db.session.scalars(select(OutboxItem)).one()
        item.due_at = utcnow()
        db.session.commit()
    assert db.session.scalars(select(OutboxItem.status)).one() == "failed"


def test_claimed_items_are_not_claimed_again(app, db, make):
    patient = make.user("patient")
    for _ in range(3):
        notify(patient, Kind.PASSWORD_RESET, {"url": LINK}, channels=("null",))
    db.session.commit()
    first = claim_due()
    assert len(first) == 3
    assert claim_due() == []  # a second scheduler finds nothing to send


def test_a_crashed_schedulers_claim_is_taken_over(app, db, make):
    patient = make.user("patient")
    notify(patient, Kind.PASSWORD_RESET, {"url": LINK}, channels=("null",))
    db.session.commit()
    (claimed,) = claim_due()
    item = db.session.get(OutboxItem, claimed.id)
    assert item.status == "sending"
    item.claimed_at = utcnow() - timedelta(seconds=app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"] + 1)
    db.session.commit()
    assert dispatch_due(Channels()) == 1
    assert db.session.get(OutboxItem, item.id).status == "sent"


def test_dispatch_costs_one_statement_per_item_plus_a_constant(app, db, make, count_queries):
    patient = make.user("patient")
    counts = {}
    for n in (5, 50):
        for _ in range(n):
            notify(patient, Kind.PASSWORD_RESET, {"url": LINK}, channels=("null",))
        db.session.commit()
        with count_queries() as counter:
            assert dispatch_due(Channels()) == n
        counts[n] = counter.count
    # Claiming is three statements per batch; each result is one UPDATE.
    assert counts[50] - counts[5] == 45, counts
    _db.session.remove()


def test_a_newer_message_notice_waits_behind_the_pending_one(app, db, make):
    patient = make.user("patient")
    for _ in range(3):
        notify(patient, Kind.NEW_MESSAGE, {"url": LINK})
    notify(patient, Kind.PASSWORD_RESET, {"url": LINK})
    notify(patient, Kind.PASSWORD_RESET, {"url": LINK})
    db.session.commit()
    kinds = sorted(db.session.scalars(select(OutboxItem.kind)))
    assert kinds == ["new_message", "password_reset", "password_reset"]


def test_administrators_hear_about_failed_deliveries(app, db, make, sms_gateway):
    admin = make.user("admin")
    patient = make.user("patient", phone="+46701740605")
    notify(patient, Kind.INVITATION, {"url": LINK}, channels=("sms",), immediate=True)
    db.session.commit()
    sms_gateway.fail_with = 400
    dispatch_due(_channels(app, sms_gateway=sms_gateway))
    report = db.session.scalars(select(OutboxItem).where(OutboxItem.kind == "delivery_failed")).one()
    assert report.address == admin.email
    assert "/admin/" in report.payload
