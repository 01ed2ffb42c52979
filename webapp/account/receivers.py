"""What the patient's account pages do when something happens to an account.

Connected once by ``create_app``; each runs in the sender's transaction.
"""

from __future__ import annotations

from webapp.account.services import begin_onboarding
from webapp.auth.signals import account_activated


def start_onboarding(user, **_extra) -> None:
    """An accepted invitation: the patient's start page opens with the short introduction."""
    begin_onboarding(user)


def connect() -> None:
    account_activated.connect(start_onboarding)
