"""What self-referral does when something happens to an account.

Connected once by ``create_app``; each runs in the sender's transaction.
"""

from __future__ import annotations

from sqlalchemy import select

from webapp.auth.signals import care_relation_requested, personal_data_requested
from webapp.extensions import db
from webapp.programme.models import Enrolment
from webapp.referrals.models import Referral
from webapp.referrals.services import has_pending_request


def request_is_a_care_relation(user, **_extra) -> bool:
    """A resident whose request the unit has not declined may log in with e-ID to follow it."""
    return has_pending_request(user)


def referrals_in_the_export(user, **_extra) -> dict:
    """The resident's self-referral requests, with the unit's answer, in their data export."""
    rows = db.session.scalars(select(Referral).join(Enrolment, Enrolment.id == Referral.enrolment_id)
                              .where(Enrolment.patient_id == user.id).order_by(Referral.id))
    return {"self_referrals": list(rows)}


def connect() -> None:
    care_relation_requested.connect(request_is_a_care_relation)
    personal_data_requested.connect(referrals_in_the_export)
