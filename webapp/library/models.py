"""Patient information a clinician has sent to a patient (shown on the patient's start page)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import User
from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class SharedInformation(db.Model):
    """One information page sent within an enrolment; the patient reads it in their own language."""

    __tablename__ = "shared_information"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), index=True)
    # A public programme and one of its modules (content ids, not rows).
    programme_id: Mapped[str] = mapped_column(String(64))
    module_id: Mapped[str] = mapped_column(String(64))
    shared_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    shared_by: Mapped[User | None] = relationship()
