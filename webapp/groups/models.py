"""Group programmes: members follow one programme on a shared session schedule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import CareUnit
from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class Group(db.Model):
    __tablename__ = "patient_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    care_unit_id: Mapped[int] = mapped_column(ForeignKey("care_unit.id", ondelete="RESTRICT"), index=True)
    programme_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    care_unit: Mapped[CareUnit] = relationship()
    sessions: Mapped[list[GroupSession]] = relationship(
        back_populates="group", order_by="GroupSession.starts_at", cascade="all, delete-orphan")


class GroupSession(db.Model):
    __tablename__ = "group_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("patient_group.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    topic: Mapped[str] = mapped_column(String(200), default="")
    # The module that opens for every member when this session starts.
    module_id: Mapped[str | None] = mapped_column(String(64))

    group: Mapped[Group] = relationship(back_populates="sessions")


class GroupMember(db.Model):
    """An enrolment in a group; leaving the group keeps the enrolment."""

    __tablename__ = "group_member"
    __table_args__ = (Index("ix_group_member_enrolment", "enrolment_id", "left_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("patient_group.id", ondelete="CASCADE"), index=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    group: Mapped[Group] = relationship()
