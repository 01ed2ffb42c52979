"""Self-referral: programmes a care unit opens to residents, and the requests residents send."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import CareUnit, User
from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.programme.models import Enrolment


class ReferralOffer(db.Model):
    """A programme a care unit lets residents ask to start, with the screening questionnaires they answer.

    A unit setting, kept by the unit's clinicians. ``is_open`` off keeps the
    settings but takes the programme off the residents' list.
    """

    __tablename__ = "referral_offer"
    __table_args__ = (UniqueConstraint("care_unit_id", "programme_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    care_unit_id: Mapped[int] = mapped_column(ForeignKey("care_unit.id", ondelete="CASCADE"))
    programme_id: Mapped[str] = mapped_column(String(64))
    # Questionnaire ids (content/forms), comma-separated, in the order they are answered.
    screening_forms: Mapped[str] = mapped_column(String(500), default="")
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    care_unit: Mapped[CareUnit] = relationship()

    @property
    def form_ids(self) -> list[str]:
        return [f for f in self.screening_forms.split(",") if f]


class Referral(db.Model):
    """A resident's request to start a programme, answered by a clinician of the unit.

    The request waits as an enrolment in the status "referred" (no access), so
    the screening answers, their scores and any safety alert are those of every
    other questionnaire and access follows the enrolment's care unit.
    """

    __tablename__ = "referral"
    __table_args__ = (
        CheckConstraint("status IN ('screening', 'waiting', 'visit', 'accepted', 'declined')", name="status"),
        Index("ix_referral_status", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), unique=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("referral_offer.id", ondelete="SET NULL"))
    # screening (answering), waiting (sent, not answered), visit (a visit asked for), accepted, declined
    status: Mapped[str] = mapped_column(String(16), default="screening")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # The clinician's message to the resident (a visit, or why not); the welcome text goes on the enrolment.
    message: Mapped[str] = mapped_column(Text, default="")

    enrolment: Mapped[Enrolment] = relationship()
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])


class RegistrationCode(db.Model):
    """A single-use code a clinician hands to one member of a group: the way in where e-ID is not used.

    Only the code's SHA-256 is stored (the clinician sees the codes once, when
    they are made). Using it is one conditional UPDATE, so two people typing
    the same code at once cannot both get in.
    """

    __tablename__ = "registration_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("referral_offer.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The group or batch the codes were made for, as the clinician named it.
    label: Mapped[str] = mapped_column(String(100), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    offer: Mapped[ReferralOffer] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
