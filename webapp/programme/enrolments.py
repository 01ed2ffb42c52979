"""The enrolment: who may reach it, and its lifecycle from opening to closing.

This is the one home of the rules every feature shares. Access follows care
relations: a patient reaches only their own enrolments, a clinician only those
of the care units they belong to, and anything else is 404 (ids are
guessable, so "forbidden" would confirm that one exists). The lifecycle
functions record an event for the history and tell the patient; views own
the commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, g, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import CareUnit, Role, User, UserSession
from webapp.auth.services import (
    SessionCompanion,
    create_user,
    register_session_companion,
    send_invitation,
    unit_ids_subquery,
)
from webapp.content.services import Programme
from webapp.core.db import utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.services import Kind, notify
from webapp.programme.models import Enrolment, EnrolmentEvent, EnrolmentStatus, EnrolmentVisit, ScheduleEntry
from webapp.programme.signals import enrolment_started

STATUS_LABELS = {
    "invited": _l("Invited"),
    "active": _l("Active"),
    "maintenance": _l("Maintenance phase"),
    "closed": _l("Closed"),
    "referred": _l("Self-referral"),
}

EVENT_LABELS = {
    "opened": _l("Access opened"),
    "closed": _l("Access closed"),
    "reopened": _l("Access opened again"),
    "extended": _l("Duration extended (days)"),
    "maintenance": _l("Maintenance phase started"),
    "handed_over": _l("Handed over"),
    "welcome_edited": _l("Welcome text changed"),
    "schedule_changed": _l("Schedule changed"),
    "end_date": _l("End date set"),
    "safety_acknowledged": _l("Safety answer handled"),
    "feedback": _l("Feedback given"),
    "referred": _l("Self-referral received"),
    "visit_requested": _l("Visit requested"),
    "reply_saved": _l("Reply to the referring unit saved"),
}

# An active patient away this long "needs attention" and may get one nudge.
INACTIVE_DAYS = 14


class EnrolmentError(Exception):
    """A lifecycle step that cannot be taken; ``code`` picks the message."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# --- who may reach an enrolment ---------------------------------------------------


def _patient_enrolment_id() -> dict | None:
    """On a patient's enrolment page (/e/<id>/...), read that enrolment beside the session."""
    rule = request.url_rule
    enrolment_id = (request.view_args or {}).get("enrolment_id")
    if rule is None or not rule.rule.startswith("/e/<int:enrolment_id>") or not isinstance(enrolment_id, int):
        return None
    return {"patient_enrolment_id": enrolment_id}


def _with_patient_enrolment(statement):
    # The join asks for the session's own user as the patient, so the row is the
    # one load_enrolment_for_patient() would find (or none, and 404); for anyone
    # else it finds nothing and costs an index lookup. The responsible clinician
    # is not joined: no page under /e/ names them, and their row was a fifth of
    # the statement's columns (issue 25); it is read when asked for.
    return (statement.add_columns(Enrolment)
            .outerjoin(Enrolment, (Enrolment.id == bindparam("patient_enrolment_id"))
                       & (Enrolment.patient_id == UserSession.user_id))
            .options(joinedload(Enrolment.care_unit), joinedload(Enrolment.schedule_entries)))


def _take_patient_enrolment(row) -> None:
    enrolment = row._mapping[Enrolment]
    g.patient_enrolment = (request.view_args["enrolment_id"], row.UserSession.user_id, enrolment)


register_session_companion("patient_enrolment", SessionCompanion(
    params=_patient_enrolment_id, extend=_with_patient_enrolment, take=_take_patient_enrolment))


def load_enrolment_for_patient(enrolment_id: int, patient, allow_closed: bool = False) -> Enrolment:
    """The patient's own enrolment, or 404 (also for someone else's: ids are guessable)."""
    preloaded = g.get("patient_enrolment")
    if preloaded is not None and preloaded[:2] == (enrolment_id, patient.id):
        enrolment = preloaded[2]
    else:
        enrolment = db.session.scalar(
            select(Enrolment)
            .options(joinedload(Enrolment.responsible_clinician), joinedload(Enrolment.care_unit))
            .where(Enrolment.id == enrolment_id, Enrolment.patient_id == patient.id)
        )
    if enrolment is None:
        abort(404)
    if not allow_closed and not enrolment.has_access:
        abort(404)
    return enrolment


def load_enrolment_for_clinician(enrolment_id: int, clinician) -> Enrolment:
    """The enrolment if it belongs to one of the clinician's care units, else 404."""
    enrolment = db.session.scalar(
        select(Enrolment)
        .options(joinedload(Enrolment.patient), joinedload(Enrolment.responsible_clinician),
                 joinedload(Enrolment.care_unit))
        .where(Enrolment.id == enrolment_id, Enrolment.care_unit_id.in_(unit_ids_subquery(clinician)))
    )
    if enrolment is None:
        abort(404)
    return enrolment


_PATIENTS_ENROLMENTS = (
    select(Enrolment)
    .options(joinedload(Enrolment.responsible_clinician), joinedload(Enrolment.care_unit))
    .where(Enrolment.patient_id == bindparam("patient_id"), Enrolment.status != EnrolmentStatus.REFERRED.value)
    .order_by(Enrolment.created_at.desc(), Enrolment.id.desc())
)
# The start page shows each schedule too: the clinician's changes come in the same statement.
_PATIENTS_ENROLMENTS_WITH_SCHEDULE = _PATIENTS_ENROLMENTS.options(joinedload(Enrolment.schedule_entries))


def enrolments_for_patient(patient, with_schedule: bool = False) -> list[Enrolment]:
    """All the patient's programmes (open first, then newest), clinician and unit loaded.

    A self-referral still waiting for the unit is a request, not a programme: its page is the request's.
    ``with_schedule`` loads each one's schedule changes for services.schedules_for().
    """
    statement = _PATIENTS_ENROLMENTS_WITH_SCHEDULE if with_schedule else _PATIENTS_ENROLMENTS
    rows = db.session.scalars(statement, {"patient_id": patient.id})
    if with_schedule:
        rows = rows.unique()
    return sorted(rows, key=lambda e: not e.is_open)


def open_enrolments_for_patient(patient) -> list[Enrolment]:
    """The enrolments the patient can use now."""
    return [e for e in enrolments_for_patient(patient) if e.has_access]


def patient_may_see_programmes(patient, programme_ids: set[str]) -> bool:
    """True if the patient has access to one of these programmes (for their media)."""
    if not programme_ids:
        return False
    found = db.session.scalar(
        select(Enrolment.id).where(Enrolment.patient_id == patient.id,
                                   Enrolment.programme_id.in_(sorted(programme_ids)), Enrolment.has_access).limit(1))
    return found is not None


# --- opening access ---------------------------------------------------------------


def find_patient(personal_number: str) -> User | None:
    """The person with this personal identity number, if Lotsa knows them."""
    return db.session.scalar(select(User).where(User.personal_number == personal_number))


def register_patient(*, personal_number: str, full_name: str, email: str, phone: str | None, locale: str) -> User:
    """A new patient account, to be invited with their first enrolment."""
    if db.session.scalar(select(User.id).where(User.email == email.strip().lower())):
        raise EnrolmentError("email_taken")
    return create_user(role=Role.PATIENT, email=email, full_name=full_name, personal_number=personal_number,
                       phone=phone or None, locale=locale)


def open_enrolment(*, patient: User, programme: Programme, unit: CareUnit, clinician: User, responsible: User | None,
                   recommended_days: int, welcome_text: str, skipped: list[str]) -> Enrolment:
    """Open a patient's access to a programme and tell them (invitation or notice)."""
    existing = db.session.scalar(select(Enrolment.id).where(
        Enrolment.patient_id == patient.id, Enrolment.programme_id == programme.id, Enrolment.is_open))
    if existing:
        raise EnrolmentError("already_open")
    now = utcnow()
    has_account = patient.has_password
    enrolment = Enrolment(
        patient=patient, programme_id=programme.id, care_unit=unit, responsible_clinician=responsible,
        status=EnrolmentStatus.ACTIVE.value if has_account else EnrolmentStatus.INVITED.value,
        recommended_days=recommended_days, welcome_text=welcome_text, created_at=now,
        started_at=now if has_account else None,
    )
    db.session.add(enrolment)
    db.session.flush()
    for module_id in skipped:
        db.session.add(ScheduleEntry(enrolment_id=enrolment.id, module_id=module_id, is_skipped=True, updated_at=now))
    add_event(enrolment, clinician, "opened", programme.id)
    if has_account:
        notify(patient, Kind.PROGRAMME_OPENED, {"url": external_url("auth.login"), **sender_of(enrolment)},
               channels=patient_channels(patient))
        enrolment_started.send(enrolment)
    else:
        send_invitation(patient, created_by=clinician, sender=sender_of(enrolment))
    return enrolment


def open_referred(enrolment: Enrolment, *, clinician: User, welcome_text: str) -> None:
    """Accept a self-referral: the waiting enrolment opens as if the clinician had opened it.

    The resident already has an account (they logged in to refer themselves),
    so access starts at once: the same event, notice and start signal as
    :func:`open_enrolment` for a patient with an account.
    """
    if enrolment.status != EnrolmentStatus.REFERRED.value:
        raise EnrolmentError("not_referred")
    if db.session.scalar(select(Enrolment.id).where(
            Enrolment.patient_id == enrolment.patient_id, Enrolment.programme_id == enrolment.programme_id,
            Enrolment.is_open, Enrolment.id != enrolment.id)):
        raise EnrolmentError("already_open")
    now = utcnow()
    enrolment.status = EnrolmentStatus.ACTIVE.value
    enrolment.started_at = now
    enrolment.welcome_text = welcome_text
    if enrolment.responsible_clinician is None:
        enrolment.responsible_clinician = clinician
    add_event(enrolment, clinician, "opened", enrolment.programme_id)
    notify(enrolment.patient, Kind.PROGRAMME_OPENED, {"url": external_url("auth.login"), **sender_of(enrolment)},
           channels=patient_channels(enrolment.patient))
    enrolment_started.send(enrolment)


def start_invited_enrolments(patient) -> None:
    """When the patient accepts the invitation, their programmes start counting."""
    now = utcnow()
    for enrolment in db.session.scalars(select(Enrolment).where(
            Enrolment.patient_id == patient.id, Enrolment.status == EnrolmentStatus.INVITED.value)):
        enrolment.status = EnrolmentStatus.ACTIVE.value
        enrolment.started_at = now
        enrolment_started.send(enrolment)


def sender_of(enrolment: Enrolment, to_patient: bool = True) -> dict:
    """Who an e-mail about this enrolment comes from, for its text: the care unit and,
    to the patient, the responsible clinician. Names only, never what the care is about."""
    sender = {"unit": enrolment.care_unit.name if enrolment.care_unit else ""}
    if to_patient and enrolment.responsible_clinician is not None:
        sender["clinician"] = enrolment.responsible_clinician.full_name
    return sender


def patient_channels(patient: User) -> tuple[str, ...]:
    """How the patient hears about their access: e-mail, and SMS if they gave a number."""
    return ("email", "sms") if patient.phone else ("email",)


def default_welcome(programme: Programme, locale: str) -> str:
    """The programme's welcome text in the patient's language, for the clinician to edit."""
    return programme.welcome.get(locale) or programme.welcome.get(programme.default_language, "")


# --- lifecycle -----------------------------------------------------------------------


def add_event(enrolment: Enrolment, actor: User | None, kind: str, detail: str = "") -> None:
    """One line in the enrolment's history."""
    db.session.add(EnrolmentEvent(enrolment_id=enrolment.id, actor_id=actor.id if actor else None, kind=kind,
                                  detail=detail[:500], at=utcnow()))


def history(enrolment: Enrolment) -> list[EnrolmentEvent]:
    """The enrolment's history, newest first."""
    return list(db.session.scalars(
        select(EnrolmentEvent).options(joinedload(EnrolmentEvent.actor))
        .where(EnrolmentEvent.enrolment_id == enrolment.id).order_by(EnrolmentEvent.at.desc(), EnrolmentEvent.id.desc())))


def close(enrolment: Enrolment, actor: User | None, reason: str) -> None:
    """Close the patient's access (``actor`` None: the end date's automatic close)."""
    if enrolment.status == EnrolmentStatus.CLOSED.value:
        raise EnrolmentError("already_closed")
    enrolment.status = EnrolmentStatus.CLOSED.value
    enrolment.closed_at = utcnow()
    enrolment.close_reason = reason
    add_event(enrolment, actor, "closed", reason)
    notify(enrolment.patient, Kind.ACCESS_CLOSED, {"url": external_url("auth.login"), **sender_of(enrolment)},
           channels=patient_channels(enrolment.patient))


def reopen(enrolment: Enrolment, actor: User) -> None:
    """Open a closed enrolment again, as active."""
    if enrolment.is_open:
        raise EnrolmentError("not_closed")
    enrolment.status = EnrolmentStatus.ACTIVE.value
    enrolment.maintenance_at = None
    enrolment.closed_at = None
    enrolment.close_reason = None
    add_event(enrolment, actor, "reopened")


def extend(enrolment: Enrolment, actor: User, days: int) -> None:
    """Lengthen the recommended duration."""
    enrolment.recommended_days += days
    add_event(enrolment, actor, "extended", str(days))


def start_maintenance(enrolment: Enrolment, actor: User) -> None:
    """The programme is done: the patient keeps reading, no new modules open."""
    if enrolment.status != EnrolmentStatus.ACTIVE.value:
        raise EnrolmentError("not_active")
    enrolment.status = EnrolmentStatus.MAINTENANCE.value
    enrolment.maintenance_at = utcnow()
    add_event(enrolment, actor, "maintenance")


def hand_over_unit(enrolment: Enrolment, actor: User, to_clinician: User,
                   chosen_unit_id: int | None = None) -> CareUnit | None:
    """The care unit that holds the enrolment after a hand-over (None: it stays where it is).

    Access follows the enrolment's care unit, so the unit must be one that has
    a part in the patient's care: the enrolment's own when the new clinician
    works there, otherwise a unit both clinicians belong to — never simply any
    unit of the new clinician, whose other colleagues have nothing to do with
    this patient. With several shared units the clinician chooses
    (EnrolmentError "choose_unit" until they do).
    """
    theirs = {m.care_unit_id for m in to_clinician.memberships}
    if enrolment.care_unit_id in theirs:
        return None
    shared = sorted(theirs & {m.care_unit_id for m in actor.memberships})
    if chosen_unit_id in shared:
        return db.session.get(CareUnit, chosen_unit_id)
    if len(shared) == 1:
        return db.session.get(CareUnit, shared[0])
    raise EnrolmentError("choose_unit" if shared else "not_a_colleague")


def hand_over(enrolment: Enrolment, actor: User, to_clinician: User, to_unit: CareUnit | None) -> None:
    """A new responsible clinician, and with ``to_unit`` a new care unit."""
    before = enrolment.responsible_clinician.full_name if enrolment.responsible_clinician else "–"
    enrolment.responsible_clinician = to_clinician
    detail = f"{before} → {to_clinician.full_name}"
    if to_unit is not None and to_unit.id != enrolment.care_unit_id:
        detail += f" ({enrolment.care_unit.name} → {to_unit.name})"
        enrolment.care_unit = to_unit
    add_event(enrolment, actor, "handed_over", detail)


def set_welcome(enrolment: Enrolment, actor: User, text: str) -> None:
    """Replace the welcome text the patient sees first."""
    enrolment.welcome_text = text
    add_event(enrolment, actor, "welcome_edited")


def set_end_date(enrolment: Enrolment, actor: User, ends_at: datetime | None) -> None:
    """Set or clear the automatic close (the patient is warned again before the new date)."""
    enrolment.ends_at = ends_at
    enrolment.end_warned_at = None
    add_event(enrolment, actor, "end_date", ends_at.date().isoformat() if ends_at else "")


def set_schedule(enrolment: Enrolment, actor: User, module_id: str, action: str, opens_at: datetime | None) -> None:
    """skip / include / open_now / set_date for one module."""
    entry = db.session.scalar(select(ScheduleEntry).where(
        ScheduleEntry.enrolment_id == enrolment.id, ScheduleEntry.module_id == module_id))
    if entry is None:
        entry = ScheduleEntry(enrolment_id=enrolment.id, module_id=module_id, is_skipped=False)
        db.session.add(entry)
    if action == "skip":
        entry.is_skipped = True
    elif action == "include":
        entry.is_skipped = False
    elif action == "open_now":
        entry.is_skipped = False
        entry.opens_at = utcnow()
    elif action == "set_date" and opens_at is not None:
        entry.opens_at = opens_at
    entry.updated_at = utcnow()
    add_event(enrolment, actor, "schedule_changed", f"{module_id}: {action}")


# --- the clinician's visits -----------------------------------------------------------

# Page views closer together than this are one visit: moving between the
# enrolment page's sections, or reloading it, keeps what is "new" new.
VISIT_GAP = timedelta(minutes=30)


def record_visit(enrolment: Enrolment, clinician: User, now: datetime | None = None) -> datetime | None:
    """Note that the clinician looks at the enrolment; returns since when things are "new" to them.

    None on the clinician's first visit (everything is new). Two statements.
    """
    now = now or utcnow()
    visit = db.session.get(EnrolmentVisit, (clinician.id, enrolment.id))
    if visit is None:
        db.session.add(EnrolmentVisit(user_id=clinician.id, enrolment_id=enrolment.id, since=None, seen_at=now))
        return None
    if now - visit.seen_at >= VISIT_GAP:
        visit.since = visit.seen_at  # a new visit: new is what came after the previous one
    visit.seen_at = now
    return visit.since


def set_opening(enrolment: Enrolment, actor: User, opening: str | None) -> None:
    """How this enrolment's modules open (None: as the programme says)."""
    if opening != enrolment.opening:
        enrolment.opening = opening
        add_event(enrolment, actor, "schedule_changed", f"opening: {opening or 'programme'}")
