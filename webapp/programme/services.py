"""The patient's side: their enrolments and activity."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp.core.db import utcnow
from webapp.programme.models import Enrolment, EnrolmentStatus

# "Last active" is for the clinician's overview; minutes of precision are plenty,
# and writing on every request would make every page view a database write.
LAST_ACTIVE_RESOLUTION = timedelta(minutes=5)


def open_enrolments_for_patient(patient) -> list[Enrolment]:
    """The patient's enrolments that are not closed, newest first."""
    from webapp.extensions import db

    return list(
        db.session.scalars(
            select(Enrolment)
            .options(joinedload(Enrolment.responsible_clinician))
            .where(Enrolment.patient_id == patient.id, Enrolment.status != EnrolmentStatus.CLOSED.value)
            .order_by(Enrolment.created_at.desc())
        )
    )


def record_activity(enrolments: list[Enrolment]) -> bool:
    """Move last_active_at forward if it is older than the resolution; True if changed."""
    now = utcnow()
    changed = False
    for enrolment in enrolments:
        if enrolment.last_active_at is None or now - enrolment.last_active_at >= LAST_ACTIVE_RESOLUTION:
            enrolment.last_active_at = now
            changed = True
    return changed
