"""What self-referral does when something happens to an account.

Connected once by ``create_app``; each runs in the sender's transaction.
"""

from __future__ import annotations

from webapp.auth.signals import care_relation_requested
from webapp.referrals.services import has_pending_request


def request_is_a_care_relation(user, **_extra) -> bool:
    """A resident whose request the unit has not declined may log in with e-ID to follow it."""
    return has_pending_request(user)


def connect() -> None:
    care_relation_requested.connect(request_is_a_care_relation)
