"""The reply to the referring unit: what the patient did in the programme and the
clinician's recommendations, kept as numbered versions on the enrolment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import User
from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class ReferralReply(db.Model):
    """One saved version of a reply; the newest is the one the patient reads and the clinician prints."""

    __tablename__ = "referral_reply"
    __table_args__ = (UniqueConstraint("enrolment_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # The language the reply was written in (its text is shown with lang/dir in other interfaces).
    locale: Mapped[str] = mapped_column(String(8))
    # Who it goes to, as the clinician wrote it ("Vårdcentralen Norr, dr Berg").
    recipient: Mapped[str] = mapped_column(String(300), default="")
    # The reply's sections as the clinician reviewed them: JSON {section: text}, see services.SECTIONS.
    content: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User | None] = relationship()
