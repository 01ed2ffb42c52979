"""Account services: passwords, server-side sessions, two-factor codes, tokens.

Views call these and own the commit; nothing here commits except where a comment
says why (the session touch, which must not wait for a view that may not write).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from flask import current_app, g, request, session
from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from webapp.auth.models import AuthToken, CareUnit, Membership, Role, TokenPurpose, User, UserSession
from webapp.core.audit import log_access, security_event, security_log
from webapp.core.db import utcnow
from webapp.core.security import hash_password, new_token, token_hash, verify_password
from webapp.core.urls import external_url
from webapp.extensions import db


class AuthError(Exception):
    """A domain error with a reason code the view turns into a message."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


# --- passwords -------------------------------------------------------------


def authenticate(email: str, password: str) -> User | None:
    """Return the user if the password is right and the account is usable.

    Unknown accounts still cost one argon2 verification, so timing does not tell
    whether an e-mail address has an account.
    """
    user = get_user_by_email(email)
    matches, needs_rehash = verify_password(user.password_hash if user else None, password)
    if user is None:
        security_event("login_failed", None, "unknown account")
        return None
    if not matches or not user.is_active_account:
        user.failed_login_count += 1
        security_event("login_failed", user, f"attempt {user.failed_login_count}")
        return None
    if needs_rehash:
        # The hashing parameters changed since this hash was made: upgrade it now,
        # while we have the plain password.
        user.password_hash = hash_password(password)
    user.failed_login_count = 0
    return user


def set_password(user: User, password: str) -> None:
    """Set a new password and end every existing session of the user."""
    user.password_hash = hash_password(password)
    revoke_all_sessions(user)
    if user.id is not None:
        security_event("password_set", user)


# --- server-side sessions --------------------------------------------------


@dataclass(frozen=True)
class SessionTimes:
    """What the page needs to warn before the idle timeout."""

    idle_deadline: datetime
    absolute_deadline: datetime

    @property
    def seconds_left(self) -> int:
        deadline = min(self.idle_deadline, self.absolute_deadline)
        return max(0, int((deadline - utcnow()).total_seconds()))


def start_session(user: User) -> UserSession:
    """Log the user in with a brand-new session id (never reuse a pre-login id)."""
    from flask_login import login_user

    locale = session.get("locale")
    # Clearing the cookie session drops any state an attacker may have planted
    # before login (session fixation); only the language choice survives.
    session.clear()
    if locale:
        session["locale"] = locale
    token = new_token()
    now = utcnow()
    row = UserSession(
        token_hash=token_hash(token),
        user=user,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"]),
        ip_address=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:200],
    )
    db.session.add(row)
    user.last_login_at = now
    session["sid"] = token
    session.permanent = False
    login_user(user, remember=False)
    g.user_session = row
    log_access(user, "auth.login")
    security_log.info("security event=login user_id=%s role=%s", user.id, user.role)
    return row


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of a live, unrevoked, unexpired session.

    Leaves ``session_end_reason`` in the cookie session when a session has just
    timed out, so the login page can say why the user was logged out.
    """
    token = session.get("sid")
    if not token:
        return None
    # The user comes in the same query: this runs on every request of a logged-in user.
    row = db.session.scalar(
        select(UserSession).options(joinedload(UserSession.user)).where(UserSession.token_hash == token_hash(token))
    )
    if row is None or row.revoked_at is not None or str(row.user_id) != str(user_id):
        return None
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        row.revoked_at = now
        db.session.commit()
        # The login page, one redirect later, tells the user why they are there.
        session.pop("sid", None)
        session["session_end_reason"] = "timeout"
        return None
    touch = timedelta(seconds=current_app.config["SESSION_TOUCH_SECONDS"])
    if now - row.last_seen_at >= touch and not _is_passive_request():
        row.last_seen_at = now
        # Commit now: the view may not write at all, and the idle clock must move.
        db.session.commit()
    g.user_session = row
    user = row.user
    return user if user.is_active_account else None


def _is_passive_request() -> bool:
    """Requests that must not count as activity (static files, health checks)."""
    return request.endpoint in {"static", "core.healthz", "core.livez"}


def session_times() -> SessionTimes | None:
    row = getattr(g, "user_session", None)
    if row is None:
        return None
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    return SessionTimes(idle_deadline=row.last_seen_at + idle, absolute_deadline=row.expires_at)


def extend_session() -> SessionTimes | None:
    """Count the current moment as activity (the "stay logged in" button)."""
    row = getattr(g, "user_session", None)
    if row is None:
        return None
    row.last_seen_at = utcnow()
    return session_times()


def end_session() -> None:
    """Revoke the current session row and forget the cookie session."""
    from flask_login import logout_user

    row = getattr(g, "user_session", None)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    locale = session.get("locale")
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale


def revoke_all_sessions(user: User) -> int:
    """Revoke every live session of a user (log out everywhere, password change)."""
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0


def active_sessions(user: User) -> list[UserSession]:
    now = utcnow()
    return list(
        db.session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > now,
            )
            .order_by(UserSession.last_seen_at.desc())
        )
    )


# --- two-factor (TOTP) for staff --------------------------------------------

TOTP_ISSUER = "Lotsa"


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def matching_totp_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step a code belongs to (current or one either side), else None."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None


def verify_totp(user: User, code: str, secret: str | None = None) -> bool:
    """Check a code and remember its time step, so the same code cannot be used twice."""
    secret = secret or user.totp_secret
    if not secret:
        return False
    step = matching_totp_step(secret, code)
    if step is None or step <= (user.totp_last_step or 0):
        return False
    # Move the step forward in the database, not only on this copy of the row:
    # two requests with the same code (on two workers or app servers) both read
    # the old step, and only the one whose UPDATE matches may log in.
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def begin_mfa(user: User) -> None:
    """Remember that the password step succeeded; the session starts after the code."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    session["mfa_user_id"] = user.id
    session["mfa_started"] = int(time.time())


def pending_mfa_user() -> User | None:
    """The staff member who passed the password step and still owes a code."""
    user_id = session.get("mfa_user_id")
    started = session.get("mfa_started", 0)
    if not user_id:
        return None
    if time.time() - started > current_app.config["MFA_PENDING_MINUTES"] * 60:
        session.pop("mfa_user_id", None)
        session.pop("mfa_new_secret", None)
        return None
    return db.session.get(User, user_id)


# --- single-use tokens: invitations and password resets ---------------------


def create_token(user: User, purpose: TokenPurpose, created_by: User | None = None) -> str:
    """Create a single-use token; earlier unused tokens of the same kind stop working."""
    now = utcnow()
    db.session.execute(
        update(AuthToken)
        .where(
            AuthToken.user_id == user.id,
            AuthToken.purpose == purpose.value,
            AuthToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if purpose is TokenPurpose.INVITATION:
        lifetime = timedelta(days=current_app.config["INVITATION_DAYS"])
    else:
        lifetime = timedelta(minutes=current_app.config["RESET_MINUTES"])
    raw = new_token()
    db.session.add(
        AuthToken(
            user_id=user.id,
            purpose=purpose.value,
            token_hash=token_hash(raw),
            created_at=now,
            expires_at=now + lifetime,
            created_by_id=created_by.id if created_by else None,
        )
    )
    return raw


def check_token(raw: str, purpose: TokenPurpose) -> AuthToken:
    """Return the live token row or raise AuthError('invalid'|'used'|'expired')."""
    row = db.session.scalar(
        select(AuthToken).where(
            AuthToken.token_hash == token_hash(raw or ""), AuthToken.purpose == purpose.value
        )
    )
    if row is None:
        raise AuthError("invalid")
    if row.used_at is not None:
        raise AuthError("used")
    if row.expires_at <= utcnow():
        raise AuthError("expired")
    return row


def use_token(row: AuthToken, password: str) -> User:
    """Spend a token: set the password and mark the token used (single use)."""
    row.used_at = utcnow()
    set_password(row.user, password)
    return row.user


def send_invitation(user: User, created_by: User | None = None) -> None:
    """Queue an invitation link for the user (by e-mail; SMS too if they have a mobile)."""
    from webapp.notifications.services import Kind, notify

    raw = create_token(user, TokenPurpose.INVITATION, created_by)
    link = external_url("auth.accept_invitation", token=raw)
    notify(user, Kind.INVITATION, {"url": link, "days": current_app.config["INVITATION_DAYS"]}, channels=("email", "sms") if user.phone else ("email",))


def request_password_reset(email: str) -> None:
    """Queue a reset link if the address has a usable account; say nothing either way."""
    from webapp.notifications.services import Kind, notify

    user = get_user_by_email(email)
    if user is None or not user.is_active_account or not user.has_password:
        return
    raw = create_token(user, TokenPurpose.RESET)
    link = external_url("auth.reset_password", token=raw)
    notify(user, Kind.PASSWORD_RESET, {"url": link, "minutes": current_app.config["RESET_MINUTES"]}, channels=("email",))


# --- accounts and units (CLI and administrators) ------------------------------


def create_user(
    *,
    role: Role | str,
    email: str,
    full_name: str,
    password: str | None = None,
    locale: str = "sv",
    personal_number: str | None = None,
    phone: str | None = None,
    units: list[CareUnit] = (),
) -> User:
    role = Role(role)
    user = User(
        role=role.value,
        email=normalise_email(email),
        full_name=full_name.strip(),
        locale=locale,
        personal_number=personal_number,
        phone=phone,
        password_hash=hash_password(password) if password else None,
        totp_last_step=0,
        failed_login_count=0,
        is_active_account=True,
    )
    db.session.add(user)
    for unit in units:
        db.session.add(Membership(user=user, care_unit=unit))
    return user


def create_care_unit(code: str, name: str) -> CareUnit:
    unit = CareUnit(code=code.strip(), name=name.strip())
    db.session.add(unit)
    return unit


# --- care units: who belongs where ---------------------------------------------------


def unit_ids_subquery(user):
    """The ids of the user's care units, as a subquery for ``IN (...)``."""
    return select(Membership.care_unit_id).where(Membership.user_id == user.id)


def units_of(user) -> list[CareUnit]:
    """The user's care units by name."""
    return list(db.session.scalars(
        select(CareUnit).join(Membership).where(Membership.user_id == user.id).order_by(CareUnit.name)))


def colleagues(clinician) -> list[User]:
    """Clinicians who share a care unit with this one (possible responsible clinicians)."""
    return list(db.session.scalars(
        select(User).join(Membership)
        .where(Membership.care_unit_id.in_(unit_ids_subquery(clinician)), User.role == Role.CLINICIAN.value,
               User.is_active_account.is_(True))
        .distinct().order_by(User.full_name)))
