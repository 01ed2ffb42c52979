"""Accounts: users and their roles, care units and staff membership, sessions, tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class Role(str, enum.Enum):
    PATIENT = "patient"
    CLINICIAN = "clinician"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        return self is not Role.PATIENT


ROLE_VALUES = tuple(r.value for r in Role)


class User(UserMixin, db.Model):
    """Anyone who logs in: a patient, clinician, content editor or administrator."""

    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("role IN ('patient', 'clinician', 'editor', 'admin')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    # Always stored lower-case; it is the login name.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    # Swedish personal identity number, 12 digits (patients only).
    personal_number: Mapped[str | None] = mapped_column(String(12), unique=True)
    # Staff only: the HSA-id (e.g. SE2321000016-1234) the region's staff identity
    # service (SITHS) hands over; set by an administrator, matched at e-ID login.
    hsa_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Mobile number in E.164 form (+46701234567).
    phone: Mapped[str | None] = mapped_column(String(20))
    # Set when the patient typed back a code sent to the number; SMS needs it.
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone_code_hash: Mapped[str | None] = mapped_column(String(64))
    phone_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locale: Mapped[str] = mapped_column(String(8), default="sv")
    # None until the invitation has been accepted.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last accepted TOTP time step: a code from that step or earlier is a reuse.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    is_active_account: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_staff(self) -> bool:
        return self.role_enum.is_staff

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_active_account

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class CareUnit(db.Model):
    """A care unit (vårdenhet): the boundary of what its staff may see."""

    __tablename__ = "care_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Short stable code used in the CLI and in URLs (e.g. "vc-norra").
    code: Mapped[str] = mapped_column(String(64), unique=True)
    # The unit's patients log in with a Swedish e-ID only (no local password login).
    requires_eid: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A unit that has closed: no new patients or members; what it holds stays readable to its staff.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="care_unit", cascade="all, delete-orphan"
    )


class Membership(db.Model):
    """A staff member's membership of a care unit."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "care_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    care_unit_id: Mapped[int] = mapped_column(
        ForeignKey("care_unit.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    care_unit: Mapped[CareUnit] = relationship(back_populates="memberships")


class UserSession(db.Model):
    """A server-side login session; the cookie carries only a random token.

    Deleting the cookie is not enough to end a session someone copied, so logout
    sets ``revoked_at`` here and every request checks it.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the cookie token: a database leak does not leak live sessions.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Absolute end of the session, however active it is.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    # How the session began: "password", "password+totp" or "eid"; for e-ID the
    # configured provider's name and the assurance level (acr) it reported.
    method: Mapped[str] = mapped_column(String(16), default="password", server_default="password")
    provider: Mapped[str | None] = mapped_column(String(32))
    acr: Mapped[str | None] = mapped_column(String(255))
    # The last time the person proved who they are in this session (the login
    # or a later re-authentication): sensitive actions need it to be recent.
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class TokenPurpose(str, enum.Enum):
    INVITATION = "invitation"
    RESET = "reset"


class AuthToken(db.Model):
    """A single-use, expiring token sent by e-mail or SMS (invitation, password reset)."""

    __tablename__ = "auth_token"
    __table_args__ = (
        CheckConstraint("purpose IN ('invitation', 'reset')", name="purpose"),
        Index("ix_auth_token_user_purpose", "user_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Passkey(db.Model):
    """A WebAuthn credential (passkey) a person registered as their second factor."""

    __tablename__ = "passkey"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1024), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))
    # The authenticator's signature counter: a counter that goes backwards means a cloned key.
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
