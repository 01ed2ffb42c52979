"""The scheduler's enrolment sweep: duration reminders, end warnings, automatic close."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from webapp.core.db import utcnow
from webapp.notifications.models import OutboxItem
from webapp.notifications.services import Channels
from webapp.programme.jobs import sweep_enrolments
from webapp.programme.models import Enrolment, EnrolmentEvent
from webapp.scheduler import run_jobs


def _outbox(db):
    return sorted((o.kind, o.address) for o in db.session.scalars(select(OutboxItem)))


def test_clinician_is_reminded_once_when_the_duration_is_reached(app, db, make):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    due = make.enrolment(make.user("patient"), unit, clinician, started_at=utcnow() - timedelta(days=366))
    make.enrolment(make.user("patient"), unit, clinician, started_at=utcnow() - timedelta(days=100))
    assert sweep_enrolments()["reminded"] == 1
    assert _outbox(db) == [("duration_reached", clinician.email)]
    payload = db.session.scalars(select(OutboxItem.payload)).one()
    assert f"/clinician/enrolments/{due.id}" in payload
    assert sweep_enrolments()["reminded"] == 0  # told once


def test_patient_is_warned_14_days_before_and_closed_at_the_end(app, db, make):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    patient = make.user("patient", phone="+46701740605")
    enrolment = make.enrolment(patient, unit, clinician, ends_at=utcnow() + timedelta(days=10))
    result = sweep_enrolments()
    assert result["warned"] == 1 and result["closed"] == 0
    assert _outbox(db) == [("access_closing_soon", "+46701740605"), ("access_closing_soon", patient.email)]
    assert sweep_enrolments()["warned"] == 0
    later = utcnow() + timedelta(days=11)
    assert sweep_enrolments(now=later)["closed"] == 1
    db.session.expire_all()
    closed = db.session.get(Enrolment, enrolment.id)
    assert closed.status == "closed"
    assert [e.kind for e in db.session.scalars(select(EnrolmentEvent))] == ["closed"]
    assert ("access_closed", patient.email) in _outbox(db)


def test_a_scheduler_tick_sweeps_and_delivers(app, db, make, smtp_server):
    from webapp.core.mail import SmtpMailer

    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    make.enrolment(make.user("patient"), unit, clinician, started_at=utcnow() - timedelta(days=400))
    result = run_jobs(Channels(SmtpMailer("127.0.0.1", smtp_server.port, sender="lotsa@lotsa.example")))
    assert result["reminded"] == 1 and result["sent"] == 1
    (message,) = smtp_server.sink.messages
    assert message["To"] == clinician.email
    body = message.get_body(("plain",)).get_content()
    # Content-free: no patient name, no programme name.
    assert "Test Patient" not in body and "smärtskola" not in body.lower()


def _opt_in(db, patient, kind):
    from webapp.notifications.models import NotificationConsent

    db.session.add(NotificationConsent(user_id=patient.id, kind=kind, channel="email", is_enabled=True,
                                       consented_at=utcnow()))
    db.session.commit()


def test_opted_in_patient_hears_once_when_a_module_opens(app, db, make):
    unit = make.unit()
    patient = make.user("patient")
    quiet = make.user("patient")
    started = utcnow() - timedelta(days=6, hours=23)
    make.enrolment(patient, unit, None, programme="pain-school", started_at=started)
    make.enrolment(quiet, unit, None, programme="pain-school", started_at=started)
    _opt_in(db, patient, "module_opened")
    assert sweep_enrolments()["modules"] == 0  # nothing new since the start
    # Module 2 opens seven days after the start.
    assert sweep_enrolments(now=utcnow() + timedelta(hours=2))["modules"] == 1
    assert _outbox(db) == [("module_opened", patient.email)]
    assert sweep_enrolments(now=utcnow() + timedelta(hours=4))["modules"] == 0


def test_module_notices_read_every_schedule_in_two_queries(app, db, make, count_queries):
    unit = make.unit()
    started = utcnow() - timedelta(days=6, hours=23)

    def add(n):
        for _ in range(n):
            patient = make.user("patient")
            make.enrolment(patient, unit, None, programme="pain-school", started_at=started)
            _opt_in(db, patient, "module_opened")

    add(1)
    with count_queries() as one:
        assert sweep_enrolments(now=utcnow() + timedelta(hours=2))["modules"] == 1
    add(20)
    with count_queries() as many:
        assert sweep_enrolments(now=utcnow() + timedelta(hours=4))["modules"] == 20

    def schedule_reads(counter):
        return [s for s in counter.statements if "FROM schedule_entry" in s or "FROM module_progress" in s]

    # Telling each patient costs its own statements; working out who to tell does not.
    assert len(schedule_reads(one)) == len(schedule_reads(many)) == 2, schedule_reads(many)


def test_inactivity_nudge_once_per_absence_for_those_who_asked(app, db, make):
    unit = make.unit()
    away = make.user("patient")
    also_away = make.user("patient")
    long_ago = utcnow() - timedelta(days=30)
    enrolment = make.enrolment(away, unit, None, started_at=long_ago, last_active_at=long_ago)
    make.enrolment(also_away, unit, None, started_at=long_ago, last_active_at=long_ago)
    _opt_in(db, away, "inactivity")
    assert sweep_enrolments()["nudged"] == 1
    assert sweep_enrolments()["nudged"] == 0
    # Nudged 20 days ago, came back 15 days ago, away since: one more nudge.
    enrolment.inactivity_nudged_at = utcnow() - timedelta(days=20)
    enrolment.last_active_at = utcnow() - timedelta(days=15)
    db.session.commit()
    assert sweep_enrolments()["nudged"] == 1
    assert [k for k, _a in _outbox(db)] == ["inactivity", "inactivity"]
