"""Administration: care units, staff and the access log."""

from __future__ import annotations

from sqlalchemy import func, select

from webapp.auth.models import CareUnit, Membership, User
from webapp.core.audit import AccessLogEntry
from webapp.extensions import db


def units_with_counts() -> list[tuple[CareUnit, int]]:
    return list(
        db.session.execute(
            select(CareUnit, func.count(Membership.id))
            .outerjoin(Membership)
            .group_by(CareUnit.id)
            .order_by(CareUnit.name)
        )
    )


def staff() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role != "patient").order_by(User.full_name)))


def recent_access_log(limit: int = 200) -> list[AccessLogEntry]:
    return list(db.session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id.desc()).limit(limit)))
