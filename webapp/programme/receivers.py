"""What the programme does when something happens to an account.

Connected once by ``create_app``; each runs in the sender's transaction.
"""

from __future__ import annotations

from webapp.auth.signals import account_activated
from webapp.programme.enrolments import start_invited_enrolments


def start_enrolments(user, **_extra) -> None:
    """An accepted invitation starts the programmes that waited for it."""
    start_invited_enrolments(user)


def connect() -> None:
    account_activated.connect(start_enrolments)
