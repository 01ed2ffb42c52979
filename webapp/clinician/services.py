"""The clinician's caseload: one page of enrolments of the clinician's care units.

The enrolment itself (access guards, opening, closing, hand-over) lives in
``webapp.programme.enrolments``; this module only finds and flags rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import User
from webapp.auth.services import colleagues, unit_ids_subquery
from webapp.content.services import get_catalogue
from webapp.core.db import days_between, utcnow
from webapp.core.identity import ascii_digits
from webapp.extensions import db
from webapp.messages.models import Conversation, Message
from webapp.programme.enrolments import INACTIVE_DAYS
from webapp.programme.models import Answer, Enrolment, EnrolmentStatus, ModuleProgress
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


@dataclass
class CaseloadRow:
    enrolment: Enrolment
    done: int
    # Why the row is where it is, most urgent first: safety, message, feedback,
    # inactive, duration_reached, closing_soon (see REASON_LABELS in the views).
    flags: list[str]

    @property
    def is_safety(self) -> bool:
        return "safety" in self.flags


def open_alert_sql():
    """An unacknowledged safety alert on the enrolment."""
    return exists(select(SafetyAlert.id).where(SafetyAlert.enrolment_id == Enrolment.id,
                                               SafetyAlert.acknowledged_at.is_(None)))


def unread_message_sql():
    """A message from the patient that no one in the care team has opened."""
    return exists(select(Conversation.enrolment_id).where(Conversation.enrolment_id == Enrolment.id,
                                                          Conversation.unread_for_staff > 0))


def latest_activity(enrolment_ids):
    """Per enrolment of ``enrolment_ids`` (a subquery): when the patient last saved an answer,
    last finished a module, and when the care team last wrote to them.

    Three grouped subqueries to join, rather than a correlated look-up per
    enrolment: the triage order needs "waiting for feedback" for every row it
    sorts, and one pass over the unit's answers, progress and messages costs
    far less than a few index look-ups for each of 10,000 enrolments.
    """
    answered = (select(Answer.enrolment_id.label("enrolment_id"), func.max(Answer.updated_at).label("at"))
                .where(Answer.enrolment_id.in_(enrolment_ids))
                .group_by(Answer.enrolment_id).subquery("last_answer"))
    finished = (select(ModuleProgress.enrolment_id.label("enrolment_id"),
                       func.max(ModuleProgress.completed_at).label("at"))
                .where(ModuleProgress.enrolment_id.in_(enrolment_ids), ModuleProgress.completed_at.is_not(None))
                .group_by(ModuleProgress.enrolment_id).subquery("last_done"))
    staff = (select(Message.enrolment_id.label("enrolment_id"), func.max(Message.created_at).label("at"))
             .where(Message.enrolment_id.in_(enrolment_ids), Message.side == "staff")
             .group_by(Message.enrolment_id).subquery("last_staff"))
    return answered, finished, staff


def join_latest_activity(query, latest):
    """``query`` over Enrolment with the subqueries of ``latest_activity`` outer-joined."""
    for sub in latest:
        query = query.outerjoin(sub, sub.c.enrolment_id == Enrolment.id)
    return query


def waiting_feedback_sql(latest):
    """Waiting for feedback: the patient saved answers or finished a module after the last
    message anyone in the care team sent them (or, with no such message yet, at all).
    ``latest`` is ``latest_activity(...)``, joined to the query (``join_latest_activity``)."""
    answered, finished, staff = latest

    def after_staff(at):
        return and_(at.is_not(None), or_(staff.c.at.is_(None), at > staff.c.at))

    return and_(Enrolment.is_open, or_(after_staff(answered.c.at), after_staff(finished.c.at)))


def inactive_sql(now: datetime):
    return and_(Enrolment.status == EnrolmentStatus.ACTIVE.value,
                or_(Enrolment.last_active_at.is_(None),
                    Enrolment.last_active_at < now - timedelta(days=INACTIVE_DAYS)))


def caseload(clinician, filters: CaseloadFilters, now: datetime | None = None,
             behind_days: int = 14) -> tuple[list[CaseloadRow], int]:
    """One page of the caseload and the total count, in a fixed number of queries whatever the size.

    The default order triages: unacknowledged safety alerts first, then
    patients waiting for the clinician (an unread message, new answers), then
    the inactive, then the rest. The page's ids and the reasons are chosen in
    one statement and the rows loaded after, so the database sorts enrolments
    alone and joins patients and clinicians to 50 rows. "Behind schedule"
    needs each enrolment's schedule (content and clinician's changes), so it
    is checked in Python over the enrolments the other filters leave, in three
    more statements.
    """
    now = now or utcnow()
    sort = filters.sort if filters.sort in SORTS else "triage"
    in_units = Enrolment.care_unit_id.in_(unit_ids_subquery(clinician))
    latest = latest_activity(select(Enrolment.id).where(in_units).scalar_subquery())
    alert, unread, feedback, inactive = open_alert_sql(), unread_message_sql(), waiting_feedback_sql(latest), inactive_sql(now)
    query = join_latest_activity(
        select(Enrolment.id, alert.label("alert"), unread.label("unread"), feedback.label("feedback"))
        .select_from(Enrolment), latest).where(in_units)
    if filters.q or sort == "name":
        query = query.join(User, Enrolment.patient_id == User.id)
    if filters.scope == "mine":
        query = query.where(Enrolment.responsible_clinician_id == clinician.id)
    if filters.status == "open":
        query = query.where(Enrolment.is_open)
    elif filters.status in {s.value for s in EnrolmentStatus}:
        query = query.where(Enrolment.status == filters.status)
    if filters.programme:
        query = query.where(Enrolment.programme_id == filters.programme)
    if filters.q:
        term = filters.q.strip()
        digits = "".join(ch for ch in ascii_digits(term) if ch in "0123456789")
        conditions = [func.lower(User.full_name).contains(term.lower(), autoescape=True)]
        if len(digits) >= 4:
            conditions.append(User.personal_number.contains(digits, autoescape=True))
        query = query.where(or_(*conditions))
    if filters.flagged:
        query = query.where(Enrolment.is_open).where(or_(*flag_sql(now)))
    if filters.feedback:
        query = query.where(feedback)
    if filters.behind:
        query = query.where(Enrolment.has_access, Enrolment.started_at <= now - timedelta(days=behind_days))

    started = func.coalesce(Enrolment.started_at, Enrolment.created_at)
    priority = case((alert, 0), (or_(unread, feedback), 1), (inactive, 2), else_=3)
    order = {
        "triage": (priority, started.desc(), Enrolment.id.desc()),
        "started": (started.desc(), Enrolment.id.desc()),
        "last_active": (Enrolment.last_active_at.is_(None), Enrolment.last_active_at.asc(), Enrolment.id),
        "name": (User.full_name.asc(), Enrolment.id),
        "days": (started.asc(), Enrolment.id),
    }[sort]
    page = max(filters.page, 1)
    if filters.behind:
        matching = [tuple(r) for r in db.session.execute(query.order_by(*order))]
        late = behind_schedule({r[0] for r in matching}, behind_days, now)
        matching = [r for r in matching if r[0] in late]
        total = len(matching)
        chosen = matching[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    else:
        total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        chosen = [tuple(r) for r in db.session.execute(
            query.order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))]
    ids = [r[0] for r in chosen]
    loaded = {e.id: e for e in db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.patient), joinedload(Enrolment.responsible_clinician))
        .where(Enrolment.id.in_(ids)))} if ids else {}
    done = dict(db.session.execute(
        select(ModuleProgress.enrolment_id, func.count())
        .where(ModuleProgress.enrolment_id.in_(ids), ModuleProgress.completed_at.is_not(None))
        .group_by(ModuleProgress.enrolment_id)
    ).all()) if ids else {}
    rows = []
    for enrolment_id, has_alert, has_unread, has_feedback in chosen:
        enrolment = loaded[enrolment_id]
        flags = (["safety"] if has_alert else []) + (["message"] if has_unread else []) \
            + (["feedback"] if has_feedback else []) + [f for f in flags_for(enrolment, now) if f != "safety"]
        rows.append(CaseloadRow(enrolment, done.get(enrolment_id, 0), flags))
    return rows, total


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
