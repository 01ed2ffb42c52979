"""The clinician's caseload: one page of enrolments of the clinician's care units.

The enrolment itself (access guards, opening, closing, hand-over) lives in
``webapp.programme.enrolments``; this module only finds and flags rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import User
from webapp.auth.services import colleagues, unit_ids_subquery
from webapp.core.db import days_between, utcnow
from webapp.core.identity import ascii_digits
from webapp.extensions import db
from webapp.programme.enrolments import INACTIVE_DAYS
from webapp.programme.models import Enrolment, EnrolmentStatus, ModuleProgress

PAGE_SIZE = 50
CLOSING_SOON_DAYS = 14
SORTS = {"started", "last_active", "name", "days"}


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
    days_run = days_between(started, now)
    reached = days_run >= Enrolment.recommended_days
    closing = and_(days_run >= Enrolment.recommended_days - CLOSING_SOON_DAYS, days_run < Enrolment.recommended_days)
    return [inactive, reached, closing, Enrolment.safety_flag_at.is_not(None)]


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
