"""The clinician's caseload: one page of enrolments of the clinician's care units.

The enrolment itself (access guards, opening, closing, hand-over) lives in
``webapp.programme.enrolments``; this module only finds and flags rows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from webapp.auth.models import User
from webapp.auth.services import colleagues, unit_ids_subquery
from webapp.content.services import get_catalogue
from webapp.core.db import days_between, utcnow
from webapp.core.identity import ascii_digits
from webapp.extensions import db
from webapp.messages.models import Conversation
from webapp.programme.enrolments import INACTIVE_DAYS
from webapp.programme.models import Enrolment, EnrolmentStatus, ModuleProgress
from webapp.programme.services import schedules_for
from webapp.questionnaires.models import SafetyAlert

PAGE_SIZE = 50
CLOSING_SOON_DAYS = 14
SORTS = {"triage", "started", "last_active", "name", "days"}


# --- caseload --------------------------------------------------------------------


@dataclass
class CaseloadFilters:
    scope: str = "unit"        # mine | unit
    status: str = "open"       # open | active | maintenance | invited | closed | all
    programme: str = ""
    flagged: bool = False
    # A module has been open for more than BEHIND_SCHEDULE_DAYS days and is not done.
    behind: bool = False
    # The patient saved answers or finished a module after the care team's last message.
    feedback: bool = False
    q: str = ""
    sort: str = "triage"
    page: int = 1


@dataclass(slots=True)
class CaseloadPerson:
    full_name: str
    personal_number: str | None = None


@dataclass(slots=True)
class CaseloadEnrolment:
    """The columns of an enrolment that a caseload row shows and flags: read as plain
    rows, not as ORM objects (fifty a page, expired again by the request's commit)."""

    id: int
    patient_id: int
    responsible_clinician_id: int | None
    programme_id: str
    status: str
    started_at: datetime | None
    closed_at: datetime | None
    recommended_days: int
    last_active_at: datetime | None
    safety_flag_at: datetime | None
    patient: CaseloadPerson
    responsible_clinician: CaseloadPerson | None

    # The enrolment's own rules (programme.models), on these columns.
    is_open = property(Enrolment.__dict__["is_open"].fget)
    days_elapsed = Enrolment.days_elapsed


# Made once: an alias of the user table built per request costs more than the rest of the statement.
PATIENT, RESPONSIBLE = aliased(User, name="patient"), aliased(User, name="responsible")
# The Enrolment columns of CaseloadEnrolment, in its order.
CASELOAD_COLUMNS = tuple(getattr(Enrolment, f.name) for f in fields(CaseloadEnrolment)
                         if f.name not in ("patient", "responsible_clinician"))


@dataclass
class CaseloadRow:
    enrolment: CaseloadEnrolment
    done: int
    # Why the row is where it is, most urgent first: safety, message, feedback,
    # inactive, duration_reached, closing_soon (see REASON_LABELS in the views).
    flags: list[str]

    @property
    def is_safety(self) -> bool:
        return "safety" in self.flags


def open_alert_sql():
    """An unacknowledged safety alert on the enrolment (a hashed set: few rows, one pass)."""
    return Enrolment.id.in_(select(SafetyAlert.enrolment_id).where(SafetyAlert.acknowledged_at.is_(None)))


def unread_message_sql():
    """A message from the patient that no one in the care team has opened."""
    return Enrolment.id.in_(select(Conversation.enrolment_id).where(Conversation.unread_for_staff > 0))


def waiting_feedback_sql():
    """Waiting for feedback: the patient saved answers or finished a module after the last
    message anyone in the care team sent them (or, with no such message yet, at all).

    ``work_at`` and ``staff_message_at`` are kept by triggers from the answers, the
    module progress and the messages themselves (migration 0022), so this reads the
    enrolment row alone instead of every answer, progress row and message of the units.
    """
    return and_(Enrolment.is_open, Enrolment.work_at.is_not(None),
                or_(Enrolment.staff_message_at.is_(None), Enrolment.work_at > Enrolment.staff_message_at))


def inactive_sql(now: datetime):
    return and_(Enrolment.status == EnrolmentStatus.ACTIVE.value,
                or_(Enrolment.last_active_at.is_(None),
                    Enrolment.last_active_at < now - timedelta(days=INACTIVE_DAYS)))


def caseload(clinician, filters: CaseloadFilters, now: datetime | None = None,
             behind_days: int = 14) -> tuple[list[CaseloadRow], int]:
    """One page of the caseload and the total count (see ``caseload_page``)."""
    rows, total, _open_alerts = caseload_page(clinician, filters, now, behind_days)
    return rows, total


def caseload_page(clinician, filters: CaseloadFilters, now: datetime | None = None,
                  behind_days: int = 14) -> tuple[list[CaseloadRow], int, int | None]:
    """One page of the caseload, the total count and the units' open safety alerts, in two
    statements whatever the size (None for the alerts when "behind schedule" is on: the
    view counts them apart then).

    The default order triages: unacknowledged safety alerts first, then
    patients waiting for the clinician (an unread message, new answers), then
    the inactive, then the rest. Every reason is read from the enrolment row
    (``work_at`` and ``staff_message_at`` are kept by triggers) or from a small
    hashed set (open alerts, unread conversations), so ranking a region's
    enrolments is one pass over their rows; the page is chosen, its patients and
    clinicians joined and its modules done counted in the same statement, for
    the page's rows only. "Behind schedule" needs each enrolment's schedule
    (content and clinician's changes), so it is checked in Python over the
    enrolments the other filters leave, in three more statements.
    """
    now = now or utcnow()
    sort = filters.sort if filters.sort in SORTS else "triage"
    alert, unread, feedback, inactive = open_alert_sql(), unread_message_sql(), waiting_feedback_sql(), inactive_sql(now)
    where = [Enrolment.care_unit_id.in_(unit_ids_subquery(clinician))]
    if filters.scope == "mine":
        where.append(Enrolment.responsible_clinician_id == clinician.id)
    if filters.status == "open":
        where.append(Enrolment.is_open)
    elif filters.status in {s.value for s in EnrolmentStatus}:
        where.append(Enrolment.status == filters.status)
    if filters.programme:
        where.append(Enrolment.programme_id == filters.programme)
    if filters.q:
        term = filters.q.strip()
        digits = "".join(ch for ch in ascii_digits(term) if ch in "0123456789")
        conditions = [func.lower(User.full_name).contains(term.lower(), autoescape=True)]
        if len(digits) >= 4:
            conditions.append(User.personal_number.contains(digits, autoescape=True))
        where.append(or_(*conditions))
    if filters.flagged:
        where += [Enrolment.is_open, or_(*flag_sql(now))]
    if filters.feedback:
        where.append(feedback)
    if filters.behind:
        where += [Enrolment.has_access, Enrolment.started_at <= now - timedelta(days=behind_days)]

    def over_enrolments(query):
        if filters.q or sort == "name":
            query = query.join(User, Enrolment.patient_id == User.id)
        return query.where(*where)

    started = func.coalesce(Enrolment.started_at, Enrolment.created_at)
    priority = case((alert, 0), (or_(unread, feedback), 1), (inactive, 2), else_=3)
    # (key, descending): the page is ranked by these in the database, then put in the same order again.
    keys = {
        "triage": ((priority, False), (started, True), (Enrolment.id, True)),
        "started": ((started, True), (Enrolment.id, True)),
        "last_active": ((Enrolment.last_active_at.is_(None), False), (Enrolment.last_active_at, False),
                        (Enrolment.id, False)),
        "name": ((User.full_name, False), (Enrolment.id, False)),
        "days": ((started, False), (Enrolment.id, False)),
    }[sort]

    def ordered(columns):
        return [column.desc() if descending else column.asc() for column, (_key, descending) in zip(columns, keys, strict=True)]

    ranked = over_enrolments(select(Enrolment.id.label("enrolment_id"), alert.label("alert"),
                                    unread.label("unread"), feedback.label("feedback"),
                                    *(key.label(f"key{n}") for n, (key, _d) in enumerate(keys))))
    page = max(filters.page, 1)
    open_alerts = None
    if filters.behind:
        matching = list(db.session.execute(ranked.order_by(*ordered([k for k, _d in keys]))))
        late = behind_schedule({r.enrolment_id for r in matching}, behind_days, now)
        matching = [r for r in matching if r.enrolment_id in late]
        total = len(matching)
        ids = [r.enrolment_id for r in matching[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]]
        chosen = ranked.where(Enrolment.id.in_(ids)).subquery("page") if ids else None
    else:
        # The open alerts of the units (the rule of questionnaires.alerts.count_open) ride along.
        alerts_open = (select(func.count()).select_from(SafetyAlert)
                       .join(Enrolment, Enrolment.id == SafetyAlert.enrolment_id)
                       .where(SafetyAlert.acknowledged_at.is_(None),
                              Enrolment.care_unit_id.in_(unit_ids_subquery(clinician)))
                       .correlate(None).scalar_subquery())
        total, open_alerts = db.session.execute(
            over_enrolments(select(func.count(), alerts_open).select_from(Enrolment))).one()
        chosen = (ranked.order_by(*ordered([k for k, _d in keys])).limit(PAGE_SIZE)
                  .offset((page - 1) * PAGE_SIZE).subquery("page"))
    found = []
    if chosen is not None:
        done = (select(func.count()).where(ModuleProgress.enrolment_id == Enrolment.id,
                                           ModuleProgress.completed_at.is_not(None))
                .correlate(Enrolment).scalar_subquery())
        # The page's rows ranked alone above; the patient, the clinician and the modules done
        # are joined and counted for those rows only.
        patient, responsible = PATIENT, RESPONSIBLE
        found = db.session.execute(
            select(*CASELOAD_COLUMNS, patient.full_name, patient.personal_number, responsible.full_name,
                   chosen.c.alert, chosen.c.unread, chosen.c.feedback, done)
            .join(chosen, chosen.c.enrolment_id == Enrolment.id)
            .outerjoin(patient, patient.id == Enrolment.patient_id)
            .outerjoin(responsible, responsible.id == Enrolment.responsible_clinician_id)
            .order_by(*ordered([chosen.c[f"key{n}"] for n in range(len(keys))])))
    rows = []
    width = len(CASELOAD_COLUMNS)
    for row in found:
        patient_name, personal_number, clinician_name, has_alert, has_unread, has_feedback, done_count = row[width:]
        enrolment = CaseloadEnrolment(
            *row[:width], patient=CaseloadPerson(patient_name, personal_number),
            responsible_clinician=None if row.responsible_clinician_id is None else CaseloadPerson(clinician_name))
        flags = (["safety"] if has_alert else []) + (["message"] if has_unread else []) \
            + (["feedback"] if has_feedback else []) + [f for f in flags_for(enrolment, now) if f != "safety"]
        rows.append(CaseloadRow(enrolment, done_count or 0, flags))
    return rows, total, open_alerts


def behind_schedule(enrolment_ids: set[int], days: int, now: datetime) -> set[int]:
    """Those of ``enrolment_ids`` with a module open for more than ``days`` days and not done.

    The programme's schedule with the clinician's changes (``schedules_for``),
    so a module left out or moved later never counts. Three statements.
    """
    if not enrolment_ids:
        return set()
    catalogue = get_catalogue()
    enrolments = [e for e in db.session.scalars(select(Enrolment).where(Enrolment.id.in_(enrolment_ids)))
                  if e.programme_id in catalogue.programmes]
    schedules = schedules_for([(e, catalogue.programmes[e.programme_id]) for e in enrolments], now)
    limit = now - timedelta(days=days)
    return {enrolment_id for enrolment_id, schedule in schedules.items()
            if any(m.is_open and not m.is_done and m.opens_at <= limit for m in schedule)}


def flag_sql(now: datetime):
    """SQL conditions for "needs attention": the same rules as flags_for(), safety from the open alerts."""
    started = func.coalesce(Enrolment.started_at, Enrolment.created_at)
    days_run = days_between(started, now)
    reached = days_run >= Enrolment.recommended_days
    closing = and_(days_run >= Enrolment.recommended_days - CLOSING_SOON_DAYS, days_run < Enrolment.recommended_days)
    return [inactive_sql(now), reached, closing, open_alert_sql()]


def flags_for(enrolment: Enrolment, now: datetime | None = None) -> list[str]:
    """safety / inactive / duration_reached / closing_soon for an open enrolment."""
    now = now or utcnow()
    if not enrolment.is_open:
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


def clinician_choices(clinician) -> list[tuple[int, str]]:
    """(id, name) of the clinicians who may be responsible, for a select field."""
    return [(u.id, u.full_name) for u in colleagues(clinician)]
