"""What the programme does when something happens to an account.

Connected once by ``create_app``; each runs in the sender's transaction.
"""

from __future__ import annotations

from sqlalchemy import select

from webapp.auth.models import CareUnit
from webapp.auth.signals import account_activated, care_relation_requested, eid_required_requested
from webapp.extensions import db
from webapp.programme.enrolments import start_invited_enrolments
from webapp.programme.models import Enrolment


def start_enrolments(user, **_extra) -> None:
    """An accepted invitation starts the programmes that waited for it."""
    start_invited_enrolments(user)


def has_open_enrolment(user, **_extra) -> bool:
    """An e-ID login may link the account: a care unit has an enrolment open for this patient."""
    return db.session.scalar(select(Enrolment.id).where(Enrolment.patient_id == user.id, Enrolment.is_open)
                             .limit(1)) is not None


def unit_requires_eid(user, **_extra) -> bool:
    """A care unit with an open enrolment for this patient lets them in with e-ID only."""
    return db.session.scalar(select(Enrolment.id).join(CareUnit, CareUnit.id == Enrolment.care_unit_id).where(
        Enrolment.patient_id == user.id, Enrolment.is_open, CareUnit.requires_eid.is_(True)).limit(1)) is not None


def connect() -> None:
    account_activated.connect(start_enrolments)
    care_relation_requested.connect(has_open_enrolment)
    eid_required_requested.connect(unit_requires_eid)
