"""The patient's own contact details while they change, and the first-login introduction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class ContactChange(db.Model):
    """A new e-mail address or mobile number waiting for its owner to prove it is theirs.

    The account keeps its old, working address until the link (e-mail) or the
    code (SMS) comes back; only a hash of the secret is stored. A newer request
    of the same channel replaces an older one.
    """

    __tablename__ = "contact_change"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel"),
        Index("ix_contact_change_user_channel", "user_id", "channel"),
        Index("ix_contact_change_secret_hash", "secret_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    # The address (lower-case) or the mobile number in E.164 form.
    new_value: Mapped[str] = mapped_column(String(254))
    # token_hash of the link's token, or of "<user id>:<code>" for an SMS code.
    secret_hash: Mapped[str] = mapped_column(String(64))
    # Wrong codes typed against this change; it is spent after a few.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Onboarding(db.Model):
    """A patient's first-login introduction: begun when the invitation is accepted, ended once
    they finish or skip it (the start page sends them there until then)."""

    __tablename__ = "onboarding"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
