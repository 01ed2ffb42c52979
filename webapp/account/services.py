"""The patient's own contact details and the first-login introduction.

A new e-mail address is used only once a link sent to it comes back; a new
mobile number only once the code texted to it is typed in. Until then the old
details keep working, so a typing error never cuts a patient off. Services
raise ``ContactError`` with a code; the views turn codes into words.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import g, request
from sqlalchemy import exists, func, select, update

from webapp.account.models import ContactChange, Onboarding
from webapp.auth.models import User, UserSession
from webapp.auth.services import SessionCompanion, register_session_companion
from webapp.core.db import utcnow
from webapp.core.security import constant_time_equal, new_token, token_hash
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.models import NotificationConsent
from webapp.notifications.services import Kind, notify
from webapp.programme.enrolments import sender_of
from webapp.programme.models import Enrolment

EMAIL_LINK_HOURS = 24
PHONE_CODE_MINUTES = 10
# Wrong codes a change survives; then a new code must be asked for.
PHONE_CODE_ATTEMPTS = 5


class ContactError(Exception):
    """A change that cannot be made: ``same``, ``taken``, ``invalid``, ``used``, ``expired``, ``wrong_code``."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _sender(user: User) -> dict:
    """The care unit and clinician of the patient's newest open programme (for the e-mail's signature)."""
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.patient_id == user.id, Enrolment.is_open)
                                  .order_by(Enrolment.created_at.desc()).limit(1))
    return sender_of(enrolment) if enrolment else {}


def _retire(user: User, channel: str, now: datetime) -> None:
    """Earlier unconfirmed changes of this channel stop working: only the newest link or code counts."""
    db.session.execute(update(ContactChange).where(
        ContactChange.user_id == user.id, ContactChange.channel == channel, ContactChange.used_at.is_(None))
        .values(used_at=now))


def pending(user: User, channel: str) -> ContactChange | None:
    """The change of ``channel`` waiting for its link or code, if any."""
    return db.session.scalar(select(ContactChange).where(
        ContactChange.user_id == user.id, ContactChange.channel == channel, ContactChange.used_at.is_(None),
        ContactChange.expires_at > utcnow()).order_by(ContactChange.id.desc()).limit(1))


# --- e-mail -----------------------------------------------------------------------

def request_email_change(user: User, new_email: str) -> None:
    """Send a confirmation link to ``new_email``; the account keeps its address until it is used.

    Whether another account has the address is not said here (that would tell
    anyone which addresses have accounts); the link then explains it.
    """
    new_email = new_email.strip().lower()
    if new_email == user.email:
        raise ContactError("same")
    now = utcnow()
    _retire(user, "email", now)
    raw = new_token()
    db.session.add(ContactChange(user_id=user.id, channel="email", new_value=new_email, secret_hash=token_hash(raw),
                                 created_at=now, expires_at=now + timedelta(hours=EMAIL_LINK_HOURS)))
    notify(user, Kind.EMAIL_CONFIRM, {"url": external_url("account.confirm_email", token=raw),
                                      "hours": EMAIL_LINK_HOURS, **_sender(user)},
           channels=("email",), address=new_email)


def confirm_email_change(raw: str) -> User:
    """Use a confirmation link: the account's address becomes the new one, and the old one is told."""
    row = db.session.scalar(select(ContactChange).where(
        ContactChange.secret_hash == token_hash(raw or ""), ContactChange.channel == "email"))
    if row is None:
        raise ContactError("invalid")
    if row.used_at is not None:
        raise ContactError("used")
    if row.expires_at <= utcnow():
        raise ContactError("expired")
    user = db.session.get(User, row.user_id)
    if db.session.scalar(select(User.id).where(func.lower(User.email) == row.new_value, User.id != user.id)):
        raise ContactError("taken")
    row.used_at = utcnow()
    old = user.email
    user.email = row.new_value
    # The old address hears of it: if someone else made the change, the patient finds out.
    notify(user, Kind.EMAIL_CHANGED, _sender(user), channels=("email",), address=old)
    return user


# --- mobile number ----------------------------------------------------------------

def request_phone_change(user: User, number: str) -> None:
    """Text a six-digit code to ``number`` (E.164), to add a number, change it, or confirm the one on file."""
    if number == user.phone and user.phone_verified_at:
        raise ContactError("same")
    now = utcnow()
    _retire(user, "sms", now)
    code = f"{secrets.randbelow(1_000_000):06d}"
    db.session.add(ContactChange(user_id=user.id, channel="sms", new_value=number,
                                 secret_hash=_code_hash(user, number, code),
                                 created_at=now, expires_at=now + timedelta(minutes=PHONE_CODE_MINUTES)))
    # Sent at once, quiet hours or not: the patient is waiting for it.
    notify(user, Kind.PHONE_CODE, {"code": code}, channels=("sms",), due_at=now, immediate=True, address=number)


def _code_hash(user: User, number: str, code: str) -> str:
    """Only a hash of the code is kept, bound to the user and the number it was sent to."""
    return token_hash(f"{user.id}:{number}:{code}")


def confirm_phone_change(user: User, code: str) -> str:
    """The number waiting for ``code`` becomes the account's confirmed mobile number; returns it."""
    change = pending(user, "sms")
    if change is None:
        raise ContactError("expired")
    if not constant_time_equal(change.secret_hash, _code_hash(user, change.new_value, code)):
        change.attempts += 1
        if change.attempts >= PHONE_CODE_ATTEMPTS:
            change.used_at = utcnow()  # guessing stops here: ask for a new code
        raise ContactError("wrong_code")
    now = utcnow()
    change.used_at = now
    user.phone = change.new_value
    user.phone_verified_at = now
    user.phone_code_hash = None
    user.phone_code_expires_at = None
    return change.new_value


def remove_phone(user: User) -> None:
    """Forget the mobile number; SMS notices stop (the choices are kept as "no")."""
    user.phone = None
    user.phone_verified_at = None
    user.phone_code_hash = None
    user.phone_code_expires_at = None
    _retire(user, "sms", utcnow())
    db.session.execute(update(NotificationConsent).where(
        NotificationConsent.user_id == user.id, NotificationConsent.channel == "sms")
        .values(is_enabled=False, updated_at=utcnow()))


# --- the first-login introduction ---------------------------------------------------

def begin_onboarding(user: User) -> None:
    """An accepted invitation: the patient's first visits start with the introduction."""
    if user.role == "patient" and db.session.get(Onboarding, user.id) is None:
        db.session.add(Onboarding(user_id=user.id, started_at=utcnow()))


def onboarding_pending(user: User) -> bool:
    """True while the patient has neither finished nor skipped the introduction."""
    preloaded = g.get("onboarding_pending")
    if preloaded is not None and preloaded[0] == user.id:
        return preloaded[1]
    row = db.session.get(Onboarding, user.id)
    return row is not None and row.finished_at is None


def _on_the_start_page() -> dict | None:
    """The start page asks first whether the introduction comes first: read that beside the session."""
    return {} if request.endpoint == "programme.home" and request.method == "GET" else None


def _with_onboarding(statement):
    pending = exists().where(Onboarding.user_id == UserSession.user_id, Onboarding.finished_at.is_(None))
    return statement.add_columns(pending.label("onboarding_pending"))


def _take_onboarding(row) -> None:
    g.onboarding_pending = (row.UserSession.user_id, bool(row.onboarding_pending))


register_session_companion("onboarding", SessionCompanion(
    params=_on_the_start_page, extend=_with_onboarding, take=_take_onboarding))


def finish_onboarding(user: User) -> None:
    """The patient finished or skipped the introduction; it can still be opened from My account."""
    row = db.session.get(Onboarding, user.id)
    if row is None:
        row = Onboarding(user_id=user.id, started_at=utcnow())
        db.session.add(row)
    row.finished_at = row.finished_at or utcnow()
