"""The clinician's side: caseload, opening and closing access, schedules, hand-over.

Access follows care relations: a clinician reaches only enrolments of the care
units they belong to, and everything else is 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import CareUnit, Membership, Role, User
from webapp.auth.services import create_user, send_invitation
from webapp.content.services import Programme
from webapp.core.db import utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.models import NotificationConsent
from webapp.notifications.services import Kind, notify, notify_user
from webapp.questionnaires.services import send_programme_measures
from webapp.programme.models import Enrolment, EnrolmentEvent, EnrolmentStatus, ModuleProgress, ScheduleEntry

PAGE_SIZE = 50
INACTIVE_DAYS = 14
CLOSING_SOON_DAYS = 14
SORTS = {"started", "last_active", "name", "days"}


# --- who may see what --------------------------------------------------------


def unit_ids_subquery(clinician):
    return select(Membership.care_unit_id).where(Membership.user_id == clinician.id)


def units_of(clinician) -> list[CareUnit]:
    return list(db.session.scalars(
        select(CareUnit).join(Membership).where(Membership.user_id == clinician.id).order_by(CareUnit.name)))


def colleagues(clinician) -> list[User]:
    """Clinicians who share a care unit with this one (possible responsible clinicians)."""
    return list(db.session.scalars(
        select(User).join(Membership)
        .where(Membership.care_unit_id.in_(unit_ids_subquery(clinician)), User.role == Role.CLINICIAN.value,
               User.is_active_account.is_(True))
        .distinct().order_by(User.full_name)))


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


# --- caseload --------------------------------------------------------------------


@dataclass
class CaseloadFilters:
    scope: str = "unit"        # mine | unit
    status: str = "open"       # open | active | maintenance | invited | closed | all
    programme: str = ""
    flagged: bool = False
    q: str = ""
    sort: str = "started"
    page: int = 1


@dataclass
class CaseloadRow:
    enrolment: Enrolment
    done: int
    flags: list[str]


def caseload(clinician, filters: CaseloadFilters, now: datetime | None = None) -> tuple[list[CaseloadRow], int]:
    """One page of the caseload and the total count: four queries whatever the size.

    Flags are computed in SQL for the "flagged" filter (flag_sql) and in
    Python for the rows shown (flags_for); both follow the same rules.
    The page's ids are chosen first and the rows loaded after, so the database
    sorts enrolments alone and joins patients and clinicians to 50 rows, not
    to every enrolment of the clinician's units.
    """
    now = now or utcnow()
    sort = filters.sort if filters.sort in SORTS else "started"
    query = select(Enrolment.id).where(Enrolment.care_unit_id.in_(unit_ids_subquery(clinician)))
    if filters.q or sort == "name":
        query = query.join(User, Enrolment.patient_id == User.id)
    if filters.scope == "mine":
        query = query.where(Enrolment.responsible_clinician_id == clinician.id)
    if filters.status == "open":
        query = query.where(Enrolment.status != EnrolmentStatus.CLOSED.value)
    elif filters.status in {s.value for s in EnrolmentStatus}:
        query = query.where(Enrolment.status == filters.status)
    if filters.programme:
        query = query.where(Enrolment.programme_id == filters.programme)
    if filters.q:
        term = filters.q.strip()
        digits = "".join(ch for ch in term if ch.isdigit())
        conditions = [func.lower(User.full_name).contains(term.lower(), autoescape=True)]
        if len(digits) >= 4:
            conditions.append(User.personal_number.contains(digits, autoescape=True))
        query = query.where(or_(*conditions))
    if filters.flagged:
        query = query.where(Enrolment.status != EnrolmentStatus.CLOSED.value).where(or_(*flag_sql(now)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0

    started = func.coalesce(Enrolment.started_at, Enrolment.created_at)
    order = {
        "started": (started.desc(), Enrolment.id.desc()),
        "last_active": (Enrolment.last_active_at.is_(None), Enrolment.last_active_at.asc(), Enrolment.id),
        "name": (User.full_name.asc(), Enrolment.id),
        "days": (started.asc(), Enrolment.id),
    }[sort]
    page = max(filters.page, 1)
    ids = list(db.session.scalars(query.order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    loaded = {e.id: e for e in db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.patient), joinedload(Enrolment.responsible_clinician))
        .where(Enrolment.id.in_(ids)))} if ids else {}
    enrolments = [loaded[i] for i in ids]
    done = dict(db.session.execute(
        select(ModuleProgress.enrolment_id, func.count())
        .where(ModuleProgress.enrolment_id.in_(ids), ModuleProgress.completed_at.is_not(None))
        .group_by(ModuleProgress.enrolment_id)
    ).all()) if ids else {}
    return [CaseloadRow(e, done.get(e.id, 0), flags_for(e, now)) for e in enrolments], total


def flag_sql(now: datetime):
    """SQL conditions for "needs attention": the same rules as flags_for()."""
    started = func.coalesce(Enrolment.started_at, Enrolment.created_at)
    inactive = and_(Enrolment.status == EnrolmentStatus.ACTIVE.value,
                    or_(Enrolment.last_active_at.is_(None),
                        Enrolment.last_active_at < now - timedelta(days=INACTIVE_DAYS)))
    days_run = _days_between(started, now)
    reached = days_run >= Enrolment.recommended_days
    closing = and_(days_run >= Enrolment.recommended_days - CLOSING_SOON_DAYS, days_run < Enrolment.recommended_days)
    return [inactive, reached, closing, Enrolment.safety_flag_at.is_not(None)]


def _days_between(column, now: datetime):
    """Whole days from a timestamp column to ``now``, portable across SQLite and PostgreSQL."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return func.floor(func.extract("epoch", now - column) / 86400)
    return func.cast(func.julianday(now.replace(tzinfo=None)) - func.julianday(column), db.Integer)


def flags_for(enrolment: Enrolment, now: datetime | None = None) -> list[str]:
    """safety / inactive / duration_reached / closing_soon for an open enrolment."""
    now = now or utcnow()
    if enrolment.status == EnrolmentStatus.CLOSED.value:
        return []
    flags = ["safety"] if enrolment.safety_flag_at else []
    if enrolment.status == EnrolmentStatus.ACTIVE.value and (
            enrolment.last_active_at is None or now - enrolment.last_active_at > timedelta(days=INACTIVE_DAYS)):
        flags.append("inactive")
    days = enrolment.days_elapsed(now)
    if days is not None:
        if days >= enrolment.recommended_days:
            flags.append("duration_reached")
        elif days >= enrolment.recommended_days - CLOSING_SOON_DAYS:
            flags.append("closing_soon")
    return flags


# --- opening access --------------------------------------------------------------


class EnrolmentError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def find_patient(personal_number: str) -> User | None:
    return db.session.scalar(select(User).where(User.personal_number == personal_number))


def register_patient(*, personal_number: str, full_name: str, email: str, phone: str | None, locale: str) -> User:
    if db.session.scalar(select(User.id).where(User.email == email.strip().lower())):
        raise EnrolmentError("email_taken")
    return create_user(role=Role.PATIENT, email=email, full_name=full_name, personal_number=personal_number,
                       phone=phone or None, locale=locale)


def open_enrolment(*, patient: User, programme: Programme, unit: CareUnit, clinician: User, responsible: User | None,
                   recommended_days: int, welcome_text: str, skipped: list[str]) -> Enrolment:
    """Open a patient's access to a programme and tell them (invitation or notice)."""
    existing = db.session.scalar(select(Enrolment.id).where(
        Enrolment.patient_id == patient.id, Enrolment.programme_id == programme.id,
        Enrolment.status != EnrolmentStatus.CLOSED.value))
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
        notify(patient, Kind.PROGRAMME_OPENED, {"url": external_url("auth.login")},
               channels=_channels_for(patient))
        send_programme_measures(enrolment, "start")
    else:
        send_invitation(patient, created_by=clinician)
    return enrolment


def _channels_for(patient: User) -> tuple[str, ...]:
    return ("email", "sms") if patient.phone else ("email",)


# --- lifecycle -----------------------------------------------------------------------


def add_event(enrolment: Enrolment, actor: User | None, kind: str, detail: str = "") -> None:
    db.session.add(EnrolmentEvent(enrolment_id=enrolment.id, actor_id=actor.id if actor else None, kind=kind,
                                  detail=detail[:500], at=utcnow()))


def history(enrolment: Enrolment) -> list[EnrolmentEvent]:
    return list(db.session.scalars(
        select(EnrolmentEvent).options(joinedload(EnrolmentEvent.actor))
        .where(EnrolmentEvent.enrolment_id == enrolment.id).order_by(EnrolmentEvent.at.desc(), EnrolmentEvent.id.desc())))


def close(enrolment: Enrolment, actor: User | None, reason: str) -> None:
    if enrolment.status == EnrolmentStatus.CLOSED.value:
        raise EnrolmentError("already_closed")
    enrolment.status = EnrolmentStatus.CLOSED.value
    enrolment.closed_at = utcnow()
    enrolment.close_reason = reason
    add_event(enrolment, actor, "closed", reason)
    notify(enrolment.patient, Kind.ACCESS_CLOSED, {"url": external_url("auth.login")},
           channels=_channels_for(enrolment.patient))


def reopen(enrolment: Enrolment, actor: User) -> None:
    if enrolment.status != EnrolmentStatus.CLOSED.value:
        raise EnrolmentError("not_closed")
    enrolment.status = EnrolmentStatus.ACTIVE.value
    enrolment.maintenance_at = None
    enrolment.closed_at = None
    enrolment.close_reason = None
    add_event(enrolment, actor, "reopened")


def extend(enrolment: Enrolment, actor: User, days: int) -> None:
    enrolment.recommended_days += days
    add_event(enrolment, actor, "extended", str(days))


def start_maintenance(enrolment: Enrolment, actor: User) -> None:
    if enrolment.status != EnrolmentStatus.ACTIVE.value:
        raise EnrolmentError("not_active")
    enrolment.status = EnrolmentStatus.MAINTENANCE.value
    enrolment.maintenance_at = utcnow()
    add_event(enrolment, actor, "maintenance")


def hand_over(enrolment: Enrolment, actor: User, to_clinician: User, to_unit: CareUnit | None) -> None:
    before = enrolment.responsible_clinician.full_name if enrolment.responsible_clinician else "–"
    enrolment.responsible_clinician = to_clinician
    detail = f"{before} → {to_clinician.full_name}"
    if to_unit is not None and to_unit.id != enrolment.care_unit_id:
        detail += f" ({enrolment.care_unit.name} → {to_unit.name})"
        enrolment.care_unit = to_unit
    add_event(enrolment, actor, "handed_over", detail)


def set_welcome(enrolment: Enrolment, actor: User, text: str) -> None:
    enrolment.welcome_text = text
    add_event(enrolment, actor, "welcome_edited")


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


# --- units and patients for forms -------------------------------------------------------


def clinician_choices(clinician) -> list[tuple[int, str]]:
    return [(u.id, u.full_name) for u in colleagues(clinician)]


def default_welcome(programme: Programme, locale: str) -> str:
    return programme.welcome.get(locale) or programme.welcome.get(programme.default_language, "")


# --- the scheduler's sweep -------------------------------------------------------------

END_WARNING_DAYS = 14


def sweep_enrolments(now: datetime | None = None) -> dict[str, int]:
    """Remind clinicians of reached durations, warn before and carry out automatic closes.

    Run by the scheduler process; each step marks what it did, so running it
    again (or in two schedulers) tells nobody twice.
    """
    now = now or utcnow()
    counts = {"reminded": 0, "warned": 0, "closed": 0}
    open_status = Enrolment.status.in_([EnrolmentStatus.ACTIVE.value, EnrolmentStatus.MAINTENANCE.value])
    started = func.coalesce(Enrolment.started_at, Enrolment.created_at)
    reached = db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.responsible_clinician))
        .where(open_status, Enrolment.started_at.is_not(None), Enrolment.duration_reminded_at.is_(None),
               Enrolment.responsible_clinician_id.is_not(None),
               _days_between(started, now) >= Enrolment.recommended_days)
        .with_for_update(of=Enrolment, skip_locked=True)
    ).unique().all()
    for enrolment in reached:
        enrolment.duration_reminded_at = now
        notify(enrolment.responsible_clinician, Kind.DURATION_REACHED,
               {"url": external_url("clinician.enrolment", enrolment_id=enrolment.id)})
        counts["reminded"] += 1
    warn = db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.patient))
        .where(open_status, Enrolment.ends_at.is_not(None), Enrolment.end_warned_at.is_(None),
               Enrolment.ends_at <= now + timedelta(days=END_WARNING_DAYS), Enrolment.ends_at > now)
        .with_for_update(of=Enrolment, skip_locked=True)
    ).unique().all()
    for enrolment in warn:
        enrolment.end_warned_at = now
        notify(enrolment.patient, Kind.ACCESS_CLOSING_SOON, {"url": external_url("auth.login")},
               channels=_channels_for(enrolment.patient))
        counts["warned"] += 1
    due = db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.patient))
        .where(open_status, Enrolment.ends_at.is_not(None), Enrolment.ends_at <= now)
        .with_for_update(of=Enrolment, skip_locked=True)
    ).unique().all()
    for enrolment in due:
        close(enrolment, None, "automatic close at the end date")
        counts["closed"] += 1
    counts["modules"] = _notice_opened_modules(now, open_status)
    counts["nudged"] = _nudge_inactive(now)
    db.session.commit()
    return counts


def _opted_in(kind: Kind):
    """Patients who chose to hear about ``kind`` on some channel."""
    return select(NotificationConsent.user_id).where(NotificationConsent.kind == kind.value,
                                                     NotificationConsent.is_enabled.is_(True))


def _notice_opened_modules(now: datetime, open_status) -> int:
    """Tell opted-in patients once when a module has opened since the last notice.

    Each enrolment is looked at most once an hour, so the sweep stays cheap.
    """
    from webapp.content.services import get_catalogue
    from webapp.programme.services import schedules_for

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
            notify_user(enrolment.patient, Kind.MODULE_OPENED, {"url": external_url("auth.login")})
            told += 1
        enrolment.modules_noticed_at = now
    return told


def _nudge_inactive(now: datetime) -> int:
    """One friendly nudge per absence to opted-in patients away for INACTIVE_DAYS."""
    cutoff = now - timedelta(days=INACTIVE_DAYS)
    rows = db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.patient))
        .where(Enrolment.status == EnrolmentStatus.ACTIVE.value, Enrolment.patient_id.in_(_opted_in(Kind.INACTIVITY)),
               func.coalesce(Enrolment.last_active_at, Enrolment.started_at) < cutoff,
               or_(Enrolment.inactivity_nudged_at.is_(None),
                   Enrolment.inactivity_nudged_at < func.coalesce(Enrolment.last_active_at, Enrolment.started_at)))
        .with_for_update(of=Enrolment, skip_locked=True)
    ).unique().all()
    for enrolment in rows:
        notify_user(enrolment.patient, Kind.INACTIVITY, {"url": external_url("auth.login")})
        enrolment.inactivity_nudged_at = now
    return len(rows)


def set_end_date(enrolment: Enrolment, actor: User, ends_at: datetime | None) -> None:
    enrolment.ends_at = ends_at
    enrolment.end_warned_at = None
    add_event(enrolment, actor, "end_date", ends_at.date().isoformat() if ends_at else "")
