"""Account services: passwords, server-side sessions, two-factor codes, tokens.

Views call these and own the commit; nothing here commits except where a comment
says why (the session touch, which must not wait for a view that may not write).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from limits import parse as parse_limit
from sqlalchemy import Row, Select, bindparam, or_, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from webapp.auth.models import AuthToken, CareUnit, Membership, Role, TokenPurpose, User, UserSession
from webapp.auth.signals import eid_required_requested
from webapp.core.audit import log_access, security_event, security_log
from webapp.core.db import utcnow
from webapp.core.identity import ascii_digits
from webapp.core.requests import strip_controls
from webapp.core.security import hash_password, new_token, token_hash, verify_password
from webapp.core.urls import external_url
from webapp.extensions import db, limiter
from webapp.notifications.services import Kind, notify


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


def start_session(user: User, *, method: str | None = None, provider: str | None = None,
                  acr: str | None = None) -> UserSession:
    """Log the user in with a brand-new session id (never reuse a pre-login id).

    ``method`` says how the person proved who they are ("password",
    "password+totp", "password+passkey", "eid"; by default "password+totp" for
    staff, "password" otherwise); an e-ID login also names its ``provider`` and
    the assurance level (``acr``) it reported. The session row, the access log
    and the account page's list of logins keep all three.
    """
    method = method or ("password+totp" if user.is_staff else "password")
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
        method=method,
        provider=provider,
        acr=acr,
        authenticated_at=now,
    )
    db.session.add(row)
    user.last_login_at = now
    session["sid"] = token
    session.permanent = False
    login_user(user, remember=False)
    g.user_session = row
    log_access(user, "auth.login", detail=login_description(row))
    security_log.info("security event=login user_id=%s role=%s method=%s provider=%s", user.id, user.role,
                      method, provider)
    return row


def login_description(row: UserSession) -> str:
    """How a session began, for the access log: "method=eid provider=bankid acr=..."."""
    parts = [f"method={row.method}"]
    if row.provider:
        parts.append(f"provider={row.provider}")
    if row.acr:
        parts.append(f"acr={row.acr}")
    return " ".join(parts)


def recent_logins(user: User, limit: int = 10) -> list[UserSession]:
    """The user's latest sessions, ended ones too: when, how and with which e-ID they began."""
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                   .order_by(UserSession.created_at.desc(), UserSession.id.desc()).limit(limit)))


# Companions of the session's statement (issue 25): a feature above auth may ask
# for rows or values a request will need to be read in the statement that loads
# the session and its user, which runs on every request of a logged-in user
# anyway. Auth knows nothing of what they add. The statement for each set of
# companions is built once and reused with bound parameters: building and
# keying it anew was a good part of a request's work.


@dataclass(frozen=True)
class SessionCompanion:
    """What a feature reads beside the session.

    ``params()`` is None when the request needs nothing, else the values of
    the bound parameters ``extend`` used; ``extend(statement)`` adds columns
    and joins (called once per set of companions); ``take(row)`` gets the row
    when the session is good and nothing has expired it.
    """

    params: Callable[[], dict | None]
    extend: Callable[[Select], Select]
    take: Callable[[Row], None]


_session_companions: dict[str, SessionCompanion] = {}


def register_session_companion(name: str, companion: SessionCompanion) -> None:
    """Register a companion of the session's statement under ``name`` (registering again replaces it)."""
    _session_companions[name] = companion
    _session_statement.cache_clear()


@functools.lru_cache(maxsize=16)
def _session_statement(names: tuple[str, ...]) -> Select:
    statement = (select(UserSession).options(joinedload(UserSession.user))
                 .where(UserSession.token_hash == bindparam("session_token_hash")))
    for name in names:
        statement = _session_companions[name].extend(statement)
    return statement


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of a live, unrevoked, unexpired session.

    Leaves ``session_end_reason`` in the cookie session when a session has just
    timed out, so the login page can say why the user was logged out.
    """
    token = session.get("sid")
    if not token:
        return None
    # The user (and what companions ask for) comes in the same query: this runs on every request.
    params = {"session_token_hash": token_hash(token)}
    names, takers = [], []
    for name, companion in _session_companions.items():
        found = companion.params()
        if found is not None:
            params.update(found)
            names.append(name)
            takers.append(companion.take)
    statement = _session_statement(tuple(names))
    result = db.session.execute(statement, params)
    found_row = result.unique().first() if takers else result.first()
    row = found_row[0] if found_row is not None else None
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
        # The login page that says so is in the user's language, not the browser's.
        if row.user.locale in current_app.config["LANGUAGES"]:
            session["locale"] = row.user.locale
        return None
    touch = timedelta(seconds=current_app.config["SESSION_TOUCH_SECONDS"])
    if now - row.last_seen_at >= touch and not _is_passive_request():
        row.last_seen_at = now
        # Commit now: the view may not write at all, and the idle clock must move.
        db.session.commit()
        # The commit expired what the companions read: their features read it again themselves.
        takers = []
    g.user_session = row
    user = row.user
    if not user.is_active_account:
        return None
    for take in takers:
        take(found_row)
    return user


def _is_passive_request() -> bool:
    """Requests that must not count as activity (static files, health checks)."""
    return request.endpoint in {"static", "core.healthz", "core.livez"}


def must_use_eid(user: User) -> bool:
    """A care unit of this patient requires e-ID login (the programme answers for enrolments)."""
    return any(result for _receiver, result in eid_required_requested.send(user))


def is_fresh() -> bool:
    """The person proved who they are in this session within FRESH_AUTH_MINUTES."""
    row = getattr(g, "user_session", None)
    if row is None or row.authenticated_at is None:
        return False
    return utcnow() - row.authenticated_at < timedelta(minutes=current_app.config["FRESH_AUTH_MINUTES"])


def mark_reauthenticated(user: User, how: str, acr: str | None = None) -> None:
    """A re-authentication succeeded: sensitive actions are open again for a while."""
    row = g.user_session
    row.authenticated_at = utcnow()
    if acr:
        row.acr = acr
    security_event("reauthenticated", user, how)


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
    row = getattr(g, "user_session", None)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    # "You are logged out" is said in the language the user was using, not the browser's.
    locale = getattr(current_user, "locale", None) if current_user.is_authenticated else None
    if locale not in current_app.config["LANGUAGES"]:
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
    code = "".join(ch for ch in ascii_digits(code or "") if ch in "0123456789")
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
        return None
    return db.session.get(User, user_id)


def pending_totp_secret(user: User) -> str:
    """The new authenticator secret offered at first login, derived on the server.

    The cookie session is signed, not encrypted, so the secret must not live in
    it: it is computed from the server's key, the person and this login attempt
    (a new login offers a new secret), and the same on every request of the step.
    """
    material = f"totp-setup:{user.id}:{session.get('mfa_started', 0)}:{user.password_hash or ''}".encode()
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), material, hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode()


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


def send_invitation(user: User, created_by: User | None = None, sender: dict | None = None) -> None:
    """Queue an invitation link for the user (by e-mail; SMS too if they have a mobile).

    ``sender`` names who invites (care unit, responsible clinician) in the e-mail,
    so that it cannot be taken for phishing.
    """
    raw = create_token(user, TokenPurpose.INVITATION, created_by)
    link = external_url("auth.accept_invitation", token=raw)
    payload = {"url": link, "days": current_app.config["INVITATION_DAYS"], **(sender or {})}
    audience = "staff" if user.is_staff else "patient"
    if any(s["audience"] == audience for s in current_app.config["OIDC_CLIENTS"].values()):
        payload["eid"] = audience  # the invitation says that e-ID login works too
    notify(user, Kind.INVITATION, payload, channels=("email", "sms") if user.phone else ("email",))


def request_password_reset(email: str) -> None:
    """Queue a reset link if the address has a usable account; say nothing either way."""
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
    """A new account (with its care units); names lose bidi controls also from the command line."""
    role = Role(role)
    user = User(
        role=role.value,
        email=normalise_email(email),
        full_name=strip_controls(full_name).strip(),
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


HSA_ID_RE = re.compile(r"^SE[0-9]{10}-[0-9A-Z]{1,31}$")


def set_hsa_id(user: User, hsa_id: str | None, by: User | None = None) -> None:
    """Give a staff account its HSA-id (matched at SITHS login), or take it away with None.

    AuthError "not_staff", "hsa_format" (SE, ten digits, a dash and letters or
    digits, e.g. SE2321000016-1234) or "hsa_taken" (another account has it).
    """
    if not user.is_staff:
        raise AuthError("not_staff")
    value = (hsa_id or "").strip().upper() or None
    if value is not None:
        if not HSA_ID_RE.match(value):
            raise AuthError("hsa_format")
        if db.session.scalar(select(User.id).where(User.hsa_id == value, User.id != user.id)):
            raise AuthError("hsa_taken")
    if value == user.hsa_id:
        return
    user.hsa_id = value
    _admin_event("hsa_id_set" if value else "hsa_id_removed", by, user)


def _admin_event(kind: str, by: User | None, user: User | None = None, unit: CareUnit | None = None,
                 **more) -> None:
    """An administrative change as a security event, with what it was about as ``key=value`` words.

    The actor is whoever made the change (None: the command line). The access
    log's reader turns the ids back into names (``admin.labels``).
    """
    parts = []
    if user is not None:
        parts.append(f"staff={user.id}")
    if unit is not None:
        parts.append(f"unit={unit.id}")
    parts += [f"{key}={value}" for key, value in more.items()]
    security_event(kind, by if by is not None else user, " ".join(parts) or None)


UNIT_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def create_care_unit(code: str, name: str, by: User | None = None) -> CareUnit:
    """A new care unit; AuthError "unit_code_format" or "unit_code_taken"."""
    code = code.strip().lower()
    if not UNIT_CODE_RE.match(code):
        raise AuthError("unit_code_format")
    if db.session.scalar(select(CareUnit.id).where(CareUnit.code == code)):
        raise AuthError("unit_code_taken")
    unit = CareUnit(code=code, name=strip_controls(name).strip())
    db.session.add(unit)
    db.session.flush()
    _admin_event("unit_created", by, unit=unit)
    return unit


def rename_care_unit(unit: CareUnit, name: str, by: User | None = None) -> None:
    name = strip_controls(name).strip()
    if name == unit.name:
        return
    unit.name = name
    _admin_event("unit_renamed", by, unit=unit)


def deactivate_care_unit(unit: CareUnit, by: User | None = None) -> None:
    """Close a unit: no new patients or members. Its staff keep reading what it holds
    (its enrolments follow the unit); AuthError "unit_inactive" if already closed."""
    if unit.deactivated_at is not None:
        raise AuthError("unit_inactive")
    unit.deactivated_at = utcnow()
    _admin_event("unit_deactivated", by, unit=unit)


def reactivate_care_unit(unit: CareUnit, by: User | None = None) -> None:
    if unit.deactivated_at is None:
        return
    unit.deactivated_at = None
    _admin_event("unit_reactivated", by, unit=unit)


def invite_staff(*, role: Role | str, email: str, full_name: str, units: list[CareUnit] = (),
                 locale: str = "sv", by: User | None = None) -> User:
    """A new staff account with its units; the invitation link is e-mailed.

    AuthError "email_taken" or "not_staff" (patients are invited by a clinician).
    """
    if not Role(role).is_staff:
        raise AuthError("not_staff")
    if get_user_by_email(email) is not None:
        raise AuthError("email_taken")
    user = create_user(role=role, email=email, full_name=full_name, locale=locale, units=list(units))
    db.session.flush()
    _admin_event("staff_invited", by, user, role=Role(role).value,
                 units=",".join(str(u.id) for u in units) or "-")
    send_invitation(user, created_by=by)
    return user


def set_role(user: User, role: Role | str, by: User | None = None) -> int:
    """Change a staff member's role; their sessions end (what they may do changed). Returns sessions ended."""
    role = Role(role)
    if not user.is_staff or not role.is_staff:
        raise AuthError("not_staff")
    if role.value == user.role:
        return 0
    if by is not None and by.id == user.id:
        raise AuthError("own_account")  # an administrator cannot lock themselves out of administration
    before, user.role = user.role, role.value
    ended = revoke_all_sessions(user)
    _admin_event("role_changed", by, user, before=before, after=role.value, sessions=ended)
    return ended


def add_to_unit(user: User, unit: CareUnit, by: User | None = None) -> None:
    """Make a staff member a member of a unit; AuthError "already_member", "unit_inactive", "not_staff"."""
    if not user.is_staff:
        raise AuthError("not_staff")
    if unit.deactivated_at is not None:
        raise AuthError("unit_inactive")
    if db.session.scalar(select(Membership.id).where(Membership.user_id == user.id,
                                                     Membership.care_unit_id == unit.id)):
        raise AuthError("already_member")
    db.session.add(Membership(user_id=user.id, care_unit_id=unit.id))
    _admin_event("unit_added", by, user, unit)


def reset_two_factor(user: User, by: User | None = None) -> int:
    """Forget a staff member's authenticator (a lost phone) and end their sessions; returns sessions ended.

    They set up a new one at their next login, after their password.
    """
    user.totp_secret = None
    user.totp_last_step = 0
    ended = revoke_all_sessions(user)
    _admin_event("two_factor_reset", by, user, sessions=ended)
    return ended


# --- care units: who belongs where ---------------------------------------------------


def unit_ids_subquery(user):
    """The ids of the user's care units, as a subquery for ``IN (...)``."""
    return select(Membership.care_unit_id).where(Membership.user_id == user.id)


def units_of(user) -> list[CareUnit]:
    """The user's care units by name."""
    return list(db.session.scalars(
        select(CareUnit).join(Membership).where(Membership.user_id == user.id).order_by(CareUnit.name)))


def remove_from_unit(user: User, unit: CareUnit, by: User | None = None) -> None:
    """Take a staff member out of a care unit; AuthError "not_a_member" when there is nothing to remove.

    Access follows membership on every request, so the unit's patients are out
    of their reach from their next request on, in sessions already open too (a
    404, as for any enrolment that is not theirs). Their sessions stay: they may
    still work in their other units.
    """
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id,
                                                            Membership.care_unit_id == unit.id))
    if membership is None:
        raise AuthError("not_a_member")
    db.session.delete(membership)
    _admin_event("unit_removed", by, user, unit)


def deactivate(user: User, by: User | None = None) -> int:
    """Close an account (off-boarding): no login, no links, every session ended; returns sessions ended."""
    if not user.is_active_account:
        raise AuthError("already_inactive")
    if by is not None and by.id == user.id:
        raise AuthError("own_account")
    user.is_active_account = False
    ended = revoke_all_sessions(user)
    # Unused invitation and reset links stop working too.
    db.session.execute(update(AuthToken).where(AuthToken.user_id == user.id, AuthToken.used_at.is_(None))
                       .values(used_at=utcnow()))
    _admin_event("account_deactivated", by, user, sessions=ended)
    return ended


def colleagues(clinician) -> list[User]:
    """Clinicians who share a care unit with this one (possible responsible clinicians)."""
    return list(db.session.scalars(
        select(User).join(Membership)
        .where(Membership.care_unit_id.in_(unit_ids_subquery(clinician)), User.role == Role.CLINICIAN.value,
               User.is_active_account.is_(True))
        .distinct().order_by(User.full_name)))


# --- lock-out after repeated failed passwords or two-factor codes ---------------------
#
# The per-minute limits (on the views) slow guessing down; the lock-out stops it.
# After RATELIMIT_LOGIN_LOCKOUT failed passwords for one account name, or
# RATELIMIT_OTP_LOCKOUT wrong codes for one staff account, within the period,
# that name or account may not try again until the period has passed. The counts
# live in the rate-limit storage (Redis, or the host's SQLite file), so every
# worker and app server sees the same ones; while that storage is unreachable
# they fall back to each process's memory, as the limits do
# (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED). Off with RATELIMIT_ENABLED=false.

# Bandit B105: a kind of attempt mapped to a setting name, not a password.
LOCKOUT_SETTINGS = {"password": "RATELIMIT_LOGIN_LOCKOUT", "two_factor": "RATELIMIT_OTP_LOCKOUT"}  # nosec B105


@dataclass(frozen=True)
class Attempt:
    """A password or code attempt, counted as a failure *before* it is checked.

    Counting first means that parallel requests on several workers cannot all
    pass a check they have not been counted against yet; a success takes the
    count back (:func:`succeed_attempt`).
    """

    kind: str
    subject: str
    #: This attempt's place among the failures of the period (0: not counted).
    number: int = 0
    #: Set when the attempt is refused: then the password or code is not checked at all.
    locked_until: datetime | None = None

    @property
    def refused(self) -> bool:
        return self.locked_until is not None


def lockout_subject(*, email: str | None = None, user: User | None = None) -> str:
    """What a lock-out is counted under: a staff account, or the account name typed.

    A typed name is counted whether it has an account or not, so a lock-out tells
    nobody which addresses have one. It is stored as a keyed hash: the storage,
    and Flask-Limiter's log lines, then hold no e-mail addresses.
    """
    if user is not None:
        return f"user-{user.id}"
    key = str(current_app.config["SECRET_KEY"]).encode()
    return "email-" + hmac.new(key, normalise_email(email or "").encode(), "sha256").hexdigest()[:40]


def _lockout_storage():
    """Flask-Limiter's storage (its in-memory stand-in while that is down); None with limits off."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    return limiter.limiter.storage


def _lockout_rule(kind: str):
    return parse_limit(current_app.config[LOCKOUT_SETTINGS[kind]])


def _lockout_keys(kind: str, subject: str) -> tuple[str, str]:
    base = f"LOCKOUT/{current_app.config['RATELIMIT_KEY_PREFIX']}/{kind}/{subject}"
    return f"{base}/failures", f"{base}/locked"


def _from_timestamp(timestamp: float) -> datetime:
    return utcnow() + timedelta(seconds=max(0.0, timestamp - time.time()))


def start_attempt(kind: str, subject: str) -> Attempt:
    """Count an attempt (``kind`` "password" or "two_factor") before it is checked.

    Refused (``locked_until`` set) during a lock-out, and when more attempts are
    under way at once than the lock-out allows: the one that reached the number
    is still being checked and starts the lock-out if it fails.
    """
    storage = _lockout_storage()
    if storage is None:
        return Attempt(kind, subject)
    rule = _lockout_rule(kind)
    failures, locked = _lockout_keys(kind, subject)
    try:
        if storage.get(locked):
            return Attempt(kind, subject, locked_until=_from_timestamp(storage.get_expiry(locked)))
        number = storage.incr(failures, rule.get_expiry())
        if number > rule.amount:
            return Attempt(kind, subject, number, locked_until=_from_timestamp(storage.get_expiry(failures)))
    except Exception:  # any storage's errors: as Flask-Limiter, never fail a login because of them
        current_app.logger.warning("lock-out storage unreachable: %s attempt not counted", kind, exc_info=True)
        return Attempt(kind, subject)
    return Attempt(kind, subject, number)


def fail_attempt(attempt: Attempt, user: User | None) -> datetime | None:
    """The attempt failed: start the lock-out if it was the last one allowed.

    Returns when the lock-out ends if there is one now. ``user`` (None for a name
    without an account) is only named, by id, in the security event.
    """
    storage = _lockout_storage()
    if storage is None or not attempt.number:
        return None
    rule = _lockout_rule(attempt.kind)
    if attempt.number < rule.amount:
        return None
    _failures, locked = _lockout_keys(attempt.kind, attempt.subject)
    try:
        # Only the request that creates the key logs the event, however many fail at once.
        started = storage.incr(locked, rule.get_expiry()) == 1
        until = _from_timestamp(storage.get_expiry(locked))
    except Exception:  # see start_attempt
        current_app.logger.warning("lock-out storage unreachable: %s lock-out not started", attempt.kind,
                                   exc_info=True)
        return None
    if started:
        who = "" if user is not None else ", unknown account"
        security_event("account_locked", user, f"{attempt.kind} after {attempt.number} failures{who}, "
                                               f"until {until:%Y-%m-%dT%H:%M:%SZ}")
    return until


def succeed_attempt(attempt: Attempt) -> None:
    """The password or code was right: the failures before it no longer count."""
    storage = _lockout_storage()
    if storage is None or not attempt.number:
        return
    failures, _locked = _lockout_keys(attempt.kind, attempt.subject)
    try:
        storage.clear(failures)
    except Exception:  # see start_attempt
        current_app.logger.warning("lock-out storage unreachable: %s failures not cleared", attempt.kind,
                                   exc_info=True)


def refuse_attempt(attempt: Attempt, user: User | None) -> None:
    """Record an attempt refused during a lock-out (the security event names the user by id only)."""
    security_event("attempt_while_locked", user, attempt.kind if user is not None else f"{attempt.kind}, unknown account")


def lockout_until(kind: str, subject: str) -> datetime | None:
    """When the lock-out of ``subject`` ends, or None: for a page that says so before anything is typed."""
    storage = _lockout_storage()
    if storage is None:
        return None
    _failures, locked = _lockout_keys(kind, subject)
    try:
        return _from_timestamp(storage.get_expiry(locked)) if storage.get(locked) else None
    except Exception:  # see start_attempt
        return None
