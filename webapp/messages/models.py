"""Messages between a patient and their care team, one conversation per enrolment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import User
from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class Message(db.Model):
    """One message. Staff messages show who wrote them (colleagues may answer)."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_enrolment_created", "enrolment_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="RESTRICT"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # "patient" or "staff": which side wrote it (the author may later change role).
    side: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the other side first opened it.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    read_by: Mapped[User | None] = relationship(foreign_keys=[read_by_id])


class Conversation(db.Model):
    """Per-enrolment counters, so inboxes and unread badges cost one small query."""

    __tablename__ = "conversation"

    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), primary_key=True)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The oldest patient message the care team has not answered or marked handled.
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    unread_for_patient: Mapped[int] = mapped_column(Integer, default=0)
    unread_for_staff: Mapped[int] = mapped_column(Integer, default=0)


class MessageTemplate(db.Model):
    """A reusable message text in one language: shared by a care unit, or one clinician's own.

    The body may hold the placeholders of ``services.PLACEHOLDERS`` ({förnamn},
    {modul}, {behandlare}, {vårdenhet}); they are filled in when the text is
    inserted into a message, in the patient's language.
    """

    __tablename__ = "message_template"
    __table_args__ = (
        CheckConstraint("kind IN ('welcome', 'feedback', 'reminder', 'closing', 'other')", name="kind"),
        Index("ix_message_template_unit", "care_unit_id", "locale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    care_unit_id: Mapped[int] = mapped_column(ForeignKey("care_unit.id", ondelete="CASCADE"))
    # Set for a personal template: only its owner sees and uses it.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="other")
    locale: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
