"""What the programme does when something happens to an account.

Connected once by ``create_app``; each runs in the sender's transaction.
"""

from __future__ import annotations

from sqlalchemy import select

from webapp.auth.signals import account_activated, care_relation_requested
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


def connect() -> None:
    account_activated.connect(start_enrolments)
    care_relation_requested.connect(has_open_enrolment)
