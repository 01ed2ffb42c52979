"""The clinician's side: caseload within the care units they belong to."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import Membership
from webapp.extensions import db
from webapp.programme.models import Enrolment

PAGE_SIZE = 50


def caseload(clinician, page: int = 1) -> tuple[list[Enrolment], int]:
    """One page of enrolments in the clinician's units, and the total count.

    A constant number of queries whatever the caseload size: one count, one page
    with patient and clinician joined in.
    """
    units = select(Membership.care_unit_id).where(Membership.user_id == clinician.id)
    where = Enrolment.care_unit_id.in_(units)
    total = db.session.scalar(select(func.count()).select_from(Enrolment).where(where))
    rows = db.session.scalars(
        select(Enrolment)
        .options(joinedload(Enrolment.patient), joinedload(Enrolment.responsible_clinician))
        .where(where)
        .order_by(Enrolment.created_at.desc(), Enrolment.id.desc())
        .limit(PAGE_SIZE)
        .offset((max(page, 1) - 1) * PAGE_SIZE)
    )
    return list(rows), total or 0
