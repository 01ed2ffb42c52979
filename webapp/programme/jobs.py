"""The scheduler's sweeps over enrolments: durations, end dates, opened modules, nudges.

Run by the scheduler process, never by a web worker. Each step marks what it
did on the enrolment and locks the rows it works on (``SKIP LOCKED``), so
running it again, or in two schedulers at once, tells nobody twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from webapp.content.services import get_catalogue
from webapp.core.db import days_between, utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.models import NotificationConsent
from webapp.notifications.services import Kind, notify, notify_user
from webapp.programme import enrolments
from webapp.programme.models import Enrolment, EnrolmentStatus
from webapp.programme.services import schedules_for

# The patient is told this many days before an automatic close.
END_WARNING_DAYS = 14


def sweep_enrolments(now: datetime | None = None) -> dict[str, int]:
    """Remind clinicians of reached durations, warn before and carry out automatic closes.

    Run by the scheduler process; each step marks what it did, so running it
    again (or in two schedulers) tells nobody twice.
    """
    now = now or utcnow()
    counts = {"reminded": 0, "warned": 0, "closed": 0}
    started = func.coalesce(Enrolment.started_at, Enrolment.created_at)
    reached = db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.responsible_clinician))
        .where(Enrolment.has_access, Enrolment.started_at.is_not(None), Enrolment.duration_reminded_at.is_(None),
               Enrolment.responsible_clinician_id.is_not(None),
               days_between(started, now) >= Enrolment.recommended_days)
        .with_for_update(of=Enrolment, skip_locked=True)
    ).unique().all()
    for enrolment in reached:
        enrolment.duration_reminded_at = now
        notify(enrolment.responsible_clinician, Kind.DURATION_REACHED,
               {"url": external_url("clinician.enrolment", enrolment_id=enrolment.id),
                **enrolments.sender_of(enrolment, to_patient=False)})
        counts["reminded"] += 1
    warn = db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.patient))
        .where(Enrolment.has_access, Enrolment.ends_at.is_not(None), Enrolment.end_warned_at.is_(None),
               Enrolment.ends_at <= now + timedelta(days=END_WARNING_DAYS), Enrolment.ends_at > now)
        .with_for_update(of=Enrolment, skip_locked=True)
    ).unique().all()
    for enrolment in warn:
        enrolment.end_warned_at = now
        notify(enrolment.patient, Kind.ACCESS_CLOSING_SOON,
               {"url": external_url("auth.login"), **enrolments.sender_of(enrolment)},
               channels=enrolments.patient_channels(enrolment.patient))
        counts["warned"] += 1
    due = db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.patient))
        .where(Enrolment.has_access, Enrolment.ends_at.is_not(None), Enrolment.ends_at <= now)
        .with_for_update(of=Enrolment, skip_locked=True)
    ).unique().all()
    for enrolment in due:
        enrolments.close(enrolment, None, "automatic close at the end date")
        counts["closed"] += 1
    counts["modules"] = _notice_opened_modules(now)
    counts["nudged"] = _nudge_inactive(now)
    db.session.commit()
    return counts


def _opted_in(kind: Kind):
    """Patients who chose to hear about ``kind`` on some channel."""
    return select(NotificationConsent.user_id).where(NotificationConsent.kind == kind.value,
                                                     NotificationConsent.is_enabled.is_(True))


def _notice_opened_modules(now: datetime) -> int:
    """Tell opted-in patients once when a module has opened since the last notice.

    Each enrolment is looked at most once an hour, so the sweep stays cheap.
    """
    catalogue = get_catalogue()
    told = 0
    rows = db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.patient))
        .where(Enrolment.status == EnrolmentStatus.ACTIVE.value, Enrolment.patient_id.in_(_opted_in(Kind.MODULE_OPENED)),
               or_(Enrolment.modules_noticed_at.is_(None), Enrolment.modules_noticed_at < now - timedelta(hours=1)))
        .with_for_update(of=Enrolment, skip_locked=True)
    ).unique().all()
    # Every schedule in two queries, however many patients are opted in.
    pairs = [(e, catalogue.programmes[e.programme_id]) for e in rows if e.programme_id in catalogue.programmes]
    schedules = schedules_for(pairs, now)
    for enrolment in rows:
        since = enrolment.modules_noticed_at or enrolment.started_at or enrolment.created_at
        if enrolment.id in schedules and any(
                s.is_open and since < s.opens_at <= now for s in schedules[enrolment.id]):
            notify_user(enrolment.patient, Kind.MODULE_OPENED,
                        {"url": external_url("auth.login"), **enrolments.sender_of(enrolment)})
            told += 1
        enrolment.modules_noticed_at = now
    return told


def _nudge_inactive(now: datetime) -> int:
    """One friendly nudge per absence to opted-in patients away for INACTIVE_DAYS."""
    cutoff = now - timedelta(days=enrolments.INACTIVE_DAYS)
    rows = db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.patient))
        .where(Enrolment.status == EnrolmentStatus.ACTIVE.value, Enrolment.patient_id.in_(_opted_in(Kind.INACTIVITY)),
               func.coalesce(Enrolment.last_active_at, Enrolment.started_at) < cutoff,
               or_(Enrolment.inactivity_nudged_at.is_(None),
                   Enrolment.inactivity_nudged_at < func.coalesce(Enrolment.last_active_at, Enrolment.started_at)))
        .with_for_update(of=Enrolment, skip_locked=True)
    ).unique().all()
    for enrolment in rows:
        notify_user(enrolment.patient, Kind.INACTIVITY,
                    {"url": external_url("auth.login"), **enrolments.sender_of(enrolment)})
        enrolment.inactivity_nudged_at = now
    return len(rows)
