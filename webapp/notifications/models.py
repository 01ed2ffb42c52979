"""The notification outbox: one row per message to deliver, written in the same
transaction as the event that caused it and delivered by the scheduler process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class OutboxItem(db.Model):
    """A notification waiting for, in, or past delivery."""

    __tablename__ = "outbox_item"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms', 'null')", name="channel"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
        # The scheduler's sweep: pending rows by due time.
        Index("ix_outbox_item_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What happened, e.g. "invitation", "password_reset"; picks the template.
    kind: Mapped[str] = mapped_column(String(48))
    channel: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    # The e-mail address or E.164 number at the time the event happened.
    address: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8))
    # JSON with what the template needs (a link). Never health information.
    # Cleared once delivered, so links with tokens do not linger.
    payload: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationConsent(db.Model):
    """A user's opt-in to one kind of notification on one channel, with when it was given."""

    __tablename__ = "notification_consent"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel"),
        Index("ix_notification_consent_user_kind", "user_id", "kind", "channel", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    channel: Mapped[str] = mapped_column(String(8))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the user last said yes (kept when they later say no, for the record).
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchedulerHeartbeat(db.Model):
    """One row per scheduler process; the admin page warns when none beat lately."""

    __tablename__ = "scheduler_heartbeat"

    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
