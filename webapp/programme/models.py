"""Enrolments: a patient's access to a programme, opened and closed by a clinician."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import CareUnit, User
from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class EnrolmentStatus(str, enum.Enum):
    # Opened by the clinician; the patient has not accepted the invitation yet.
    INVITED = "invited"
    ACTIVE = "active"
    # The programme is done; the patient keeps reading but gets no new modules.
    MAINTENANCE = "maintenance"
    CLOSED = "closed"


class Enrolment(db.Model):
    """One patient × one programme × one care unit (inskrivning)."""

    __tablename__ = "enrolment"
    __table_args__ = (
        CheckConstraint(
            "status IN ('invited', 'active', 'maintenance', 'closed')", name="status"
        ),
        CheckConstraint("recommended_days > 0", name="recommended_days_positive"),
        Index("ix_enrolment_unit_status", "care_unit_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"), index=True)
    # Programme id as written in content/modules/<programme>/ (content is files).
    programme_id: Mapped[str] = mapped_column(String(64))
    care_unit_id: Mapped[int] = mapped_column(ForeignKey("care_unit.id", ondelete="RESTRICT"))
    responsible_clinician_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=EnrolmentStatus.INVITED.value)
    recommended_days: Mapped[int] = mapped_column(Integer, default=365)
    # Markdown written (or edited from the programme default) by the clinician.
    welcome_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(String(500))
    # Updated at most every few minutes per session, not on every request.
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient: Mapped[User] = relationship(foreign_keys=[patient_id])
    care_unit: Mapped[CareUnit] = relationship()
    responsible_clinician: Mapped[User | None] = relationship(
        foreign_keys=[responsible_clinician_id]
    )

    @property
    def is_open(self) -> bool:
        return self.status != EnrolmentStatus.CLOSED.value

    def days_elapsed(self, now: datetime | None = None) -> int | None:
        """Whole days since the patient started, or None before they started."""
        if self.started_at is None:
            return None
        end = self.closed_at or now or utcnow()
        return max(0, (end - self.started_at).days)
