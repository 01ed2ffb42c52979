"""Logs carry ids, never personal data; instance files are for the service's user only.

Runs the flows that used to leak (an invitation and a password reset in
development, a refused delivery, an access-log search by identity number, a
database failure during a request) with every logger at DEBUG and the terminal
captured, then looks for the e-mail addresses, links with tokens, identity
numbers and message text involved.
"""

from __future__ import annotations

import logging
import os
import re
import stat

import pytest
from sqlalchemy import update

from tests.fixtures.plugin import Auth, csrf_token_from
from webapp.core.db import utcnow
from webapp.core.mail import MailboxFileMailer
from webapp.core.sms import FileSms
from webapp.notifications.models import OutboxItem
from webapp.notifications.services import Channels, dispatch_all_due

PNR = "191212121212"
EMAIL = "kim.exempel@invanare.example"
SECRET_TEXT = "Min värk är värre på nätterna"
TOKEN_LINK = re.compile(r"/auth/(invitation|reset)/[A-Za-z0-9_-]{16,}")


def _leaks(text: str) -> list[str]:
    found = [needle for needle in (PNR, "19121212-1212", EMAIL, SECRET_TEXT) if needle in text]
    found += TOKEN_LINK.findall(text)
    return found


def test_no_personal_data_in_logs_or_terminal(app, db, make, caplog, capfd, tmp_path):
    caplog.set_level(logging.DEBUG)
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    admin = make.user("admin")
    staff = app.test_client()
    Auth(staff, db).login(clinician)
    # Opening access for a new patient queues an invitation e-mail with a live link.
    token = csrf_token_from(staff.get("/clinician/open").get_data(as_text=True))
    staff.post("/clinician/open", data={"csrf_token": token, "step": "1", "programme": "pain-school",
                                        "personal_number": PNR})
    page = staff.post("/clinician/open", data={
        "csrf_token": token, "step": "2", "programme": "pain-school", "personal_number": PNR,
        "full_name": "Kim Exempel", "email": EMAIL, "phone": "070-174 06 05", "locale": "sv",
        "responsible": str(clinician.id), "recommended_days": "365", "welcome_text": "Välkommen"})
    assert page.status_code == 302, page.get_data(as_text=True)[:500]
    # A password reset for the same address.
    anon = app.test_client()
    token = csrf_token_from(anon.get("/auth/reset").get_data(as_text=True))
    anon.post("/auth/reset", data={"csrf_token": token, "email": EMAIL})
    # Development channels: e-mail and SMS go to files; the terminal only says so.
    channels = Channels(MailboxFileMailer(str(tmp_path / "mailbox.txt")), FileSms(str(tmp_path / "sms.txt")))
    # After 21:00 in Stockholm the SMS waits for the morning (quiet hours): due now, so every
    # channel's logging is covered whatever the hour the suite runs.
    db.session.execute(update(OutboxItem).values(due_at=utcnow()))
    db.session.commit()
    assert dispatch_all_due(channels) >= 2
    assert EMAIL in (tmp_path / "mailbox.txt").read_text()  # the file has it, for the developer
    # An administrator searches the access log by identity number (a security event).
    admin_client = app.test_client()
    Auth(admin_client, db).login(admin)
    assert admin_client.get(f"/admin/access-log?patient={PNR}").status_code == 200

    out, err = capfd.readouterr()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert _leaks(logged) == [], logged
    assert _leaks(out + err) == [], out + err


def test_a_refused_recipient_is_reported_without_the_address(monkeypatch):
    """The adapter's error (logged and shown to administrators) names the SMTP code, not the address."""
    import smtplib

    from webapp.core.mail import DeliveryError, SmtpMailer

    refused = smtplib.SMTPRecipientsRefused({EMAIL: (550, b"5.1.1 <" + EMAIL.encode() + b"> unknown")})

    class RefusingServer:
        """Below the adapter: an SMTP connection whose server refuses the recipient."""

        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, msg):
            raise refused

    monkeypatch.setattr(smtplib, "SMTP", RefusingServer)
    with pytest.raises(DeliveryError) as caught:
        SmtpMailer("127.0.0.1", 25, sender="lotsa@region.example").send(EMAIL, "Ämne", "Text")
    assert caught.value.permanent and "550" in str(caught.value) and EMAIL not in str(caught.value)


def test_a_database_failure_logs_no_sql_values(app, db, make, caplog, monkeypatch):
    """A failing statement's parameters (here a patient's message) never reach the log."""
    caplog.set_level(logging.DEBUG)
    unit = make.unit()
    patient = make.user("patient")
    enrolment = make.enrolment(patient, unit, make.user("clinician", units=[unit]))
    client = app.test_client()
    Auth(client, db).login(patient)
    thread = f"/e/{enrolment.id}/messages"
    token = csrf_token_from(client.get(thread).get_data(as_text=True))
    app.config["PROPAGATE_EXCEPTIONS"] = False

    from webapp.messages import services

    def failing(*args, **kwargs):
        db.session.execute(db.text("SELECT * FROM no_such_table WHERE body = :body"), {"body": SECRET_TEXT})

    monkeypatch.setattr(services, "post_as_patient", failing)
    response = client.post(thread, data={"csrf_token": token, "body": SECRET_TEXT})
    assert response.status_code >= 500
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    for record in caplog.records:
        if record.exc_info:
            logged += logging.Formatter().formatException(record.exc_info)
    assert SECRET_TEXT not in logged


def test_instance_files_are_private(app, db, make, tmp_path):
    instance = app.instance_path
    assert stat.S_IMODE(os.stat(instance).st_mode) == 0o700
    mailbox = MailboxFileMailer(os.path.join(instance, "mailbox.txt"))
    mailbox.send(EMAIL, "Ämne", "Text")
    FileSms(os.path.join(instance, "sms.txt")).send("+46701740605", "Text")
    for name in ("mailbox.txt", "sms.txt"):
        assert stat.S_IMODE(os.stat(os.path.join(instance, name)).st_mode) == 0o600
    database = app.config["SQLALCHEMY_DATABASE_URI"]
    if database.startswith("sqlite:///"):
        path = database.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                assert stat.S_IMODE(os.stat(path + suffix).st_mode) & 0o077 == 0, path + suffix
