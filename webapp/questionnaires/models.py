"""Questionnaires sent to a patient and the answers they gave."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import User
from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class Round(db.Model):
    """One send by a clinician: a questionnaire to one patient or to a recipient list.

    Grouping the dispatches lets the clinician follow who has answered, who is
    still waiting and who is overdue, and remind them, in one place.
    """

    __tablename__ = "questionnaire_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[str] = mapped_column(String(64))
    care_unit_id: Mapped[int] = mapped_column(ForeignKey("care_unit.id", ondelete="CASCADE"), index=True)
    # Set when sent to every active enrolment of a programme; None for chosen patients.
    programme_id: Mapped[str | None] = mapped_column(String(64))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sent_by: Mapped[User | None] = relationship()


class Dispatch(db.Model):
    """One questionnaire sent to one enrolment, answered once."""

    __tablename__ = "questionnaire_dispatch"
    __table_args__ = (Index("ix_questionnaire_dispatch_open", "enrolment_id", "answered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    # The id of the definition in content/forms.
    form_id: Mapped[str] = mapped_column(String(64))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # manual (sent by a clinician), before (at the start), after (programme done)
    # or day-N (N days after the start, from the programme's measures).
    purpose: Mapped[str] = mapped_column(String(16), default="manual")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The patient sees it, and is told, from send_at on (a clinician can send on a later date).
    send_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_round.id", ondelete="SET NULL"), index=True)
    # Partial answers saved on the way, as JSON {item id: value}.
    draft: Mapped[str] = mapped_column(Text, default="{}")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sent_by: Mapped[User | None] = relationship()
    round: Mapped[Round | None] = relationship()
    submission: Mapped[Submission | None] = relationship(back_populates="dispatch", uselist=False)


class Submission(db.Model):
    """The submitted answers and the score they gave."""

    __tablename__ = "questionnaire_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_dispatch.id", ondelete="CASCADE"), unique=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    answers: Mapped[str] = mapped_column(Text)
    total: Mapped[float | None] = mapped_column(Float)
    # The band's label in the form's first language, kept as it was when scored.
    band: Mapped[str | None] = mapped_column(String(100))
    subscales: Mapped[str] = mapped_column(Text, default="{}")
    safety_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    dispatch: Mapped[Dispatch] = relationship(back_populates="submission")


class SafetyAlert(db.Model):
    """A safety answer that a clinician of the care unit must acknowledge, saying what was done.

    Open (``acknowledged_at`` empty) it is first on the caseload of everyone in
    the unit. ``escalate_at`` is fixed when the alert is made (so many working
    hours later); the scheduler then tells the unit's opted-in clinicians once
    and sets ``escalated_at``.
    """

    __tablename__ = "safety_alert"
    __table_args__ = (
        Index("ix_safety_alert_enrolment_open", "enrolment_id", "acknowledged_at"),
        # The scheduler's sweep: open alerts not yet escalated, by due time.
        Index("ix_safety_alert_escalation", "acknowledged_at", "escalated_at", "escalate_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_response.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    escalate_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # What the clinician did (called the patient, booked a visit): part of the record.
    note: Mapped[str] = mapped_column(String(500), default="")

    acknowledged_by: Mapped[User | None] = relationship()
    submission: Mapped[Submission | None] = relationship()
