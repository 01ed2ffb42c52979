"""Safety alerts: a safety answer is a loop that a clinician of the care unit closes.

An answer that hits a safety rule makes a SafetyAlert. The responsible
clinician is told at once; the alert is first on the caseload of everyone in
the care unit until one of them acknowledges it with a note of what was done.
If nobody has within SAFETY_ESCALATION_WORKING_HOURS working hours, the
scheduler (``jobs.escalate_safety_alerts``) tells every clinician of the unit
who opted in. Notices are content-free: a link to the unit's alert page,
never who answered or what. Access follows the enrolment's care unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from flask import abort, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import Membership, Role, User
from webapp.auth.services import unit_ids_subquery
from webapp.core.dates import add_working_hours
from webapp.core.db import utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.models import NotificationConsent
from webapp.notifications.services import Kind, channels_for, notify
from webapp.programme.enrolments import add_event, sender_of
from webapp.programme.models import Enrolment
from webapp.questionnaires.models import SafetyAlert

# Acknowledged alerts shown on the unit's overview (and counted in its figures).
RECENT_DAYS = 90
NOTE_MAX = 500


class AlertError(Exception):
    """An acknowledgement that cannot be made; ``code`` picks the message."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def raise_alert(enrolment: Enrolment, submission, now: datetime | None = None) -> SafetyAlert:
    """Open an alert for a safety answer and tell the responsible clinician at once (content-free)."""
    now = now or utcnow()
    alert = SafetyAlert(enrolment_id=enrolment.id, submission=submission, created_at=now,
                        escalate_at=add_working_hours(now, current_app.config["SAFETY_ESCALATION_WORKING_HOURS"]),
                        note="")
    db.session.add(alert)
    enrolment.safety_flag_at = now
    if enrolment.responsible_clinician is not None:
        notify(enrolment.responsible_clinician, Kind.SAFETY_FLAG,
               {"url": external_url("clinician.enrolment", enrolment_id=enrolment.id),
                **sender_of(enrolment, to_patient=False)})
    return alert


def load_alert_for_clinician(alert_id: int, clinician) -> SafetyAlert:
    """The alert if its enrolment belongs to one of the clinician's care units, else 404."""
    alert = db.session.scalar(
        select(SafetyAlert).join(Enrolment, Enrolment.id == SafetyAlert.enrolment_id)
        .options(joinedload(SafetyAlert.acknowledged_by))
        .where(SafetyAlert.id == alert_id, Enrolment.care_unit_id.in_(unit_ids_subquery(clinician))))
    if alert is None:
        abort(404)
    return alert


def acknowledge(alert: SafetyAlert, enrolment: Enrolment, actor: User, note: str,
                now: datetime | None = None) -> None:
    """Close the loop: who, when and what was done go on the alert and into the enrolment's history."""
    if alert.acknowledged_at is not None:
        raise AlertError("already_acknowledged")
    note = note.strip()
    if not note:
        raise AlertError("note_missing")
    now = now or utcnow()
    alert.acknowledged_at = now
    alert.acknowledged_by_id = actor.id
    alert.note = note[:NOTE_MAX]
    add_event(enrolment, actor, "safety_acknowledged", alert.note)
    still_open = db.session.scalar(select(SafetyAlert.id).where(
        SafetyAlert.enrolment_id == enrolment.id, SafetyAlert.acknowledged_at.is_(None),
        SafetyAlert.id != alert.id).limit(1))
    if still_open is None:
        enrolment.safety_flag_at = None


def open_alerts(enrolment_ids: list[int]) -> dict[int, list[SafetyAlert]]:
    """Unacknowledged alerts per enrolment, oldest first (one query)."""
    result: dict[int, list[SafetyAlert]] = {}
    if not enrolment_ids:
        return result
    for alert in db.session.scalars(select(SafetyAlert).where(
            SafetyAlert.enrolment_id.in_(enrolment_ids), SafetyAlert.acknowledged_at.is_(None))
            .order_by(SafetyAlert.created_at, SafetyAlert.id)):
        result.setdefault(alert.enrolment_id, []).append(alert)
    return result


def count_open(clinician) -> int:
    """Unacknowledged alerts in the clinician's care units."""
    return db.session.scalar(
        select(func.count()).select_from(SafetyAlert).join(Enrolment, Enrolment.id == SafetyAlert.enrolment_id)
        .where(SafetyAlert.acknowledged_at.is_(None), Enrolment.care_unit_id.in_(unit_ids_subquery(clinician)))) or 0


@dataclass
class UnitAlerts:
    open: list[tuple[SafetyAlert, Enrolment]]
    recent: list[tuple[SafetyAlert, Enrolment]]
    median_wait: timedelta | None
    slowest_wait: timedelta | None


def unit_alerts(clinician, now: datetime | None = None) -> UnitAlerts:
    """Open alerts and those acknowledged in the last RECENT_DAYS in the clinician's units, with the
    median and slowest time from answer to acknowledgement (wall-clock time). Two queries."""
    now = now or utcnow()
    base = (select(SafetyAlert, Enrolment).join(Enrolment, Enrolment.id == SafetyAlert.enrolment_id)
            .options(joinedload(Enrolment.patient), joinedload(Enrolment.responsible_clinician),
                     joinedload(SafetyAlert.acknowledged_by))
            .where(Enrolment.care_unit_id.in_(unit_ids_subquery(clinician))))
    open_rows = [tuple(r) for r in db.session.execute(
        base.where(SafetyAlert.acknowledged_at.is_(None)).order_by(SafetyAlert.created_at, SafetyAlert.id))]
    recent = [tuple(r) for r in db.session.execute(
        base.where(SafetyAlert.acknowledged_at >= now - timedelta(days=RECENT_DAYS))
        .order_by(SafetyAlert.acknowledged_at.desc(), SafetyAlert.id.desc()))]
    waits = [alert.acknowledged_at - alert.created_at for alert, _e in recent]
    return UnitAlerts(open_rows, recent, median(waits) if waits else None, max(waits) if waits else None)


def escalation_recipients(enrolment: Enrolment) -> list[User]:
    """Active clinicians of the enrolment's care unit who turned the escalation notice on."""
    return list(db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.care_unit_id == enrolment.care_unit_id, User.role == Role.CLINICIAN.value,
               User.is_active_account.is_(True),
               User.id.in_(select(NotificationConsent.user_id).where(
                   NotificationConsent.kind == Kind.SAFETY_ESCALATION.value,
                   NotificationConsent.is_enabled.is_(True))))
        .distinct().order_by(User.id)))


def escalate(alert: SafetyAlert, enrolment: Enrolment, now: datetime) -> int:
    """Tell the unit's opted-in clinicians (content-free) and mark the alert escalated; count notices."""
    alert.escalated_at = now
    url = external_url("clinician.safety_alerts")
    told = 0
    for user in escalation_recipients(enrolment):
        # SMS among the chosen channels wait out the quiet hours (notify does that).
        told += len(notify(user, Kind.SAFETY_ESCALATION, {"url": url},
                           channels=channels_for(user, Kind.SAFETY_ESCALATION), due_at=now))
    return told
