"""The rehabilitation plan agreed with the patient, and the follow-up contacts
that carry it out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import User
from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class CarePlan(db.Model):
    """One plan per enrolment: a working draft and the versions shared with the patient."""

    __tablename__ = "care_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), unique=True)
    # The clinician's unsaved work as JSON (same shape as a version's content); never lost.
    draft: Mapped[str | None] = mapped_column(Text)
    draft_saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[CarePlanVersion]] = relationship(
        back_populates="plan", order_by="CarePlanVersion.number", cascade="all, delete-orphan")

    @property
    def current(self) -> CarePlanVersion | None:
        return self.versions[-1] if self.versions else None


class CarePlanVersion(db.Model):
    """A plan as shared with the patient; the patient's agreement is recorded on it."""

    __tablename__ = "care_plan_version"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("care_plan.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # JSON: {"goals": [{"matters", "able_to"}], "activities": [{"what", "who", "when"}], "review_on"}
    content: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    agreed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agreed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    plan: Mapped[CarePlan] = relationship(back_populates="versions")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    agreed_by: Mapped[User | None] = relationship(foreign_keys=[agreed_by_id])


class FollowUpContact(db.Model):
    """A planned phone call, video call or visit, and what came of it."""

    __tablename__ = "follow_up_contact"
    __table_args__ = (Index("ix_follow_up_contact_open", "outcome", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), index=True)
    # phone, video or visit
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purpose: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None while planned; "kept" or "missed" once recorded.
    outcome: Mapped[str | None] = mapped_column(String(16))
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    # An optional 0-10 rating asked during the contact ("How well can you manage your pain?").
    rating: Mapped[int | None] = mapped_column(Integer)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
