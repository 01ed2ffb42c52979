"""Patient data rights (export, erasure, retention), security events, and
backup → damage → restore with the data identical."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.fixtures.plugin import Auth
from webapp.core.audit import AccessLogEntry
from webapp.core.db import utcnow
from webapp.messages.models import Message
from webapp.notifications.models import NotificationConsent
from webapp.programme.models import Answer, Enrolment


@pytest.fixture
def s(app, make, db):
    from webapp.messages.services import post_as_patient

    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    patient = make.user("patient", name="Kim Exempelsson", personal_number="191212121212", phone="+46701740605")
    enrolment = make.enrolment(patient, unit, clinician)
    db.session.add(Answer(enrolment_id=enrolment.id, module_id="pain-physiology", block_id="b1", kind="reflection",
                          text="Mitt svar om smärta", version=1))
    db.session.add(NotificationConsent(user_id=patient.id, kind="new_message", channel="email", is_enabled=True,
                                       consented_at=utcnow()))
    with app.test_request_context():
        post_as_patient(enrolment, patient, "Ett meddelande till vårdteamet")
    db.session.commit()
    sc = app.test_client()
    Auth(sc, db).login(clinician)
    sc.get(f"/clinician/enrolments/{enrolment.id}")  # a staff read, to appear in the patient's access log
    return {"unit": unit, "clinician": clinician, "patient": patient, "e": enrolment}


def test_patient_downloads_everything_held_about_them(app, s, db):
    client = app.test_client()
    Auth(client, db).login(s["patient"])
    data = json.loads(client.get("/account/my-data.json").get_data(as_text=True))
    assert data["account"]["personal_number"] == "191212121212"
    assert "password_hash" not in data["account"] and "totp_secret" not in data["account"]
    assert [a["text"] for a in data["answers"]] == ["Mitt svar om smärta"]
    assert [m["body"] for m in data["messages"]] == ["Ett meddelande till vårdteamet"]
    assert any(e["action"] == "enrolment.view" and e["who"] == s["clinician"].full_name and e["role"] == "clinician"
               for e in data["access_log"])
    # Staff are named by name and role: no staff ids or network addresses in the patient's copy.
    assert all(set(e) == {"at", "who", "role", "action", "enrolment_id"} for e in data["access_log"])
    page = client.get("/account/my-data").get_data(as_text=True)
    assert "Mitt svar om smärta" in page and "enrolment.view" in page
    actions = db.session.scalars(select(AccessLogEntry.action).where(AccessLogEntry.patient_id == s["patient"].id))
    assert {"privacy.export_own", "privacy.view_own"} <= set(actions)


def test_the_export_holds_the_self_referral_and_the_reply_to_the_referrer(app, s, db):
    from webapp.referrals.models import Referral
    from webapp.replies.models import ReferralReply

    db.session.add(Referral(enrolment_id=s["e"].id, status="visit", message="Välkommen på ett besök den 3 mars."))
    db.session.add(ReferralReply(enrolment_id=s["e"].id, number=1, locale="sv", recipient="Vårdcentralen Norr",
                                 content=json.dumps({"recommendations": "Fortsätt med promenaderna."})))
    db.session.commit()
    client = app.test_client()
    Auth(client, db).login(s["patient"])
    data = json.loads(client.get("/account/my-data.json").get_data(as_text=True))
    assert [(r["status"], r["message"]) for r in data["self_referrals"]] == [
        ("visit", "Välkommen på ett besök den 3 mars.")]
    assert [r["recipient"] for r in data["replies_to_referrer"]] == ["Vårdcentralen Norr"]
    page = client.get("/account/my-data").get_data(as_text=True)
    assert "Välkommen på ett besök den 3 mars." in page and "Fortsätt med promenaderna." in page


def test_admin_exports_and_erases_app_only_data(app, s, make, db):
    admin = make.user("admin")
    client = app.test_client()
    auth = Auth(client, db)
    auth.login(admin)
    page = client.get("/admin/privacy?personal_number=19121212-1212").get_data(as_text=True)
    assert "Kim Exempelsson" in page
    data = json.loads(client.get(f"/admin/privacy/{s['patient'].id}/export.json").get_data(as_text=True))
    assert data["messages"][0]["body"] == "Ett meddelande till vårdteamet"

    url = f"/admin/privacy/{s['patient'].id}/erase"
    auth.post(url, {}, "/admin/privacy")  # without confirming: nothing happens
    assert db.session.scalars(select(NotificationConsent)).all() != []
    auth.post(url, {"confirm": "yes"}, "/admin/privacy")
    db.session.refresh(s["patient"])
    assert db.session.scalars(select(NotificationConsent)).all() == []
    assert s["patient"].phone is None
    # Access is still open, so the e-mail stays; record-relevant data stays too.
    assert s["patient"].email.endswith("@lotsa.example") and s["patient"].is_active_account
    assert db.session.scalars(select(Answer.text)).all() == ["Mitt svar om smärta"]

    s["e"].status, s["e"].closed_at = "closed", utcnow()
    db.session.commit()
    auth.post(url, {"confirm": "yes"}, "/admin/privacy")
    db.session.refresh(s["patient"])
    assert s["patient"].email.endswith("@erased.invalid") and not s["patient"].is_active_account
    assert db.session.scalars(select(Message.body)).all() == ["Ett meddelande till vårdteamet"]
    actions = set(db.session.scalars(select(AccessLogEntry.action)))
    assert {"security.patient_data_exported", "security.patient_data_erased", "privacy.erase"} <= actions

    # Other roles cannot do any of this.
    outsider = app.test_client()
    Auth(outsider, db).login(s["clinician"])
    assert outsider.get(f"/admin/privacy/{s['patient'].id}/export.json").status_code == 403


def test_record_data_is_purged_after_the_retention_period(app, s, make, db):
    from webapp.privacy.services import purge_expired_records

    recent = make.enrolment(make.user("patient"), s["unit"], status="closed", closed_at=utcnow() - timedelta(days=30))
    s["e"].status, s["e"].closed_at = "closed", utcnow() - timedelta(days=365 * 11)
    db.session.commit()
    old_id, patient_id = s["e"].id, s["patient"].id
    assert purge_expired_records() == 1
    db.session.commit()
    assert db.session.get(Enrolment, recent.id) is not None
    db.session.expunge_all()
    assert db.session.get(Enrolment, old_id) is None
    assert db.session.scalars(select(Answer)).all() == [] and db.session.scalars(select(Message)).all() == []
    # The access log is the proof of who looked: it stays.
    assert db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.patient_id == patient_id)).all()


def test_security_events_are_logged_without_personal_data(app, s, make, db, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="lotsa.security")
    client = app.test_client()
    auth = Auth(client, db)
    auth.post("/auth/login", {"email": s["patient"].email, "password": "wrong password"}, "/auth/login")
    auth.login(s["patient"])
    auth.post("/auth/logout")
    admin = make.user("admin")
    Auth(client, db).login(admin)
    client.get("/admin/access-log")
    actions = list(db.session.scalars(select(AccessLogEntry.action).where(AccessLogEntry.action.like("security.%"))))
    assert {"security.login_failed", "security.logout", "security.access_log_read"} <= set(actions)
    text = caplog.text
    assert "event=login_failed" in text and "event=login " in text + " " and "event=access_log_read" in text
    assert s["patient"].email not in text and "Kim" not in text and "191212121212" not in text


def test_backup_damage_restore_gives_identical_data(app, s, db, tmp_path):
    from webapp.admin.backup import backup_command, restore_command

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite backups (PostgreSQL uses pg_dump, documented)")
    database = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    db.session.commit()

    def dump():
        with sqlite3.connect(database) as connection:
            return list(connection.iterdump())

    before = dump()
    runner = app.test_cli_runner()
    result = runner.invoke(backup_command, ["--to", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (backup,) = tmp_path.glob("lotsa-*.sqlite3")

    # Damage: lose the messages and answers, add a stray row.
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM answer_version")
        connection.execute("DELETE FROM answer")
        connection.execute("UPDATE message SET body = 'overwritten'")
    assert dump() != before

    result = runner.invoke(restore_command, [str(backup), "--yes"])
    assert result.exit_code == 0, result.output
    db.session.close()
    db.engine.dispose()
    assert dump() == before
    assert db.session.scalars(select(Message.body)).all() == ["Ett meddelande till vårdteamet"]

    # A damaged backup file is refused.
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    result = runner.invoke(restore_command, [str(broken), "--yes"])
    assert result.exit_code != 0


def test_lists_that_showed_the_patient_are_in_their_access_log_extract(app, s, make, db):
    """The caseload and the inbox log every patient they showed, in one row per request."""
    other = make.enrolment(make.user("patient"), s["unit"], s["clinician"])
    clinician = app.test_client()
    Auth(clinician, db).login(s["clinician"])
    before = db.session.scalar(select(func.count()).select_from(AccessLogEntry))
    assert clinician.get("/clinician/").status_code == 200
    assert clinician.get("/clinician/inbox").status_code == 200
    rows = db.session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id.desc()).limit(2)).all()
    assert db.session.scalar(select(func.count()).select_from(AccessLogEntry)) == before + 2
    caseload = next(r for r in rows if r.action == "caseload.view")
    assert f",{s['patient'].id}," in caseload.patient_ids and f",{other.patient_id}," in caseload.patient_ids
    inbox = next(r for r in rows if r.action == "inbox.view")
    assert inbox.patient_ids == f",{s['patient'].id},"  # only the waiting conversation's patient

    patient = app.test_client()
    Auth(patient, db).login(s["patient"])
    extract = json.loads(patient.get("/account/my-data.json").get_data(as_text=True))["access_log"]
    assert {"caseload.view", "inbox.view"} <= {e["action"] for e in extract}
    # The other patient's extract has the caseload but not this patient's inbox row.
    from webapp.privacy.services import collect

    others = {e["action"] for e in collect(db.session.get(type(s["patient"]), other.patient_id))["access_log"]}
    assert "caseload.view" in others and "inbox.view" not in others
