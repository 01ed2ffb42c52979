"""Enrolments: a patient's access to a programme, opened and closed by a clinician."""

from __future__ import annotations

import enum
import json
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
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
    # A resident asked to start (self-referral) and waits for the care unit's
    # answer: no access yet, and not on the caseload's "open" list either.
    REFERRED = "referred"


# Not "open" for the clinician: closed, or a self-referral nobody has accepted yet.
NOT_OPEN_STATUSES = (EnrolmentStatus.CLOSED.value, EnrolmentStatus.REFERRED.value)

# The statuses in which the patient has access and the programme runs: what
# "open" means for the patient's pages, reminders and questionnaires.
ACCESS_STATUSES = (EnrolmentStatus.ACTIVE.value, EnrolmentStatus.MAINTENANCE.value)


class Enrolment(db.Model):
    """One patient × one programme × one care unit (inskrivning)."""

    __tablename__ = "enrolment"
    __table_args__ = (
        CheckConstraint(
            "status IN ('invited', 'active', 'maintenance', 'closed', 'referred')", name="status"
        ),
        CheckConstraint("recommended_days > 0", name="recommended_days_positive"),
        Index("ix_enrolment_unit_status", "care_unit_id", "status"),
        # The clinicians' waiting count reads the waiting enrolments of their units alone.
        Index("ix_enrolment_waiting_unit", "care_unit_id", "status",
              postgresql_where=text("waiting_since IS NOT NULL"), sqlite_where=text("waiting_since IS NOT NULL")),
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
    # When the maintenance phase began: modules due after this do not open.
    maintenance_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optional automatic close; the patient is told 14 days before.
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the responsible clinician was reminded that the duration is reached.
    duration_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Up to when the patient has been told about newly opened modules.
    modules_noticed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the patient was last nudged after a long time away (opt-in).
    inactivity_nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a questionnaire answer hit a safety rule; cleared when a clinician has acted.
    safety_flag_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(String(500))
    # Updated at most every few minutes per session, not on every request.
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How modules open for this patient (content.services.OPENINGS); None follows the programme.
    opening: Mapped[str | None] = mapped_column(String(16))
    # When a clinician last gave feedback: answers saved before it are no longer "new".
    answers_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept by database triggers (migration 0022), never written here: the latest answer
    # save or finished module, and the latest message from the care team. The caseload's
    # "waiting for feedback" compares the two without reading every answer of the region.
    work_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    staff_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept by triggers too (migration 0023): the conversation's waiting_since, so the
    # navigation's count of waiting conversations reads an index of the units' waiting
    # enrolments instead of probing every enrolment's conversation on every page.
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient: Mapped[User] = relationship(foreign_keys=[patient_id])
    care_unit: Mapped[CareUnit] = relationship()
    responsible_clinician: Mapped[User | None] = relationship(
        foreign_keys=[responsible_clinician_id]
    )
    # Read only beside the session on the patient's pages (enrolments.py); elsewhere
    # services.schedules_for() reads the rows itself, so touching this is an error.
    schedule_entries: Mapped[list[ScheduleEntry]] = relationship(viewonly=True, lazy="raise")

    # The two status rules, in Python and SQL alike: use these, never a spelled-out status list.
    @hybrid_property
    def is_open(self) -> bool:
        """Invited, active or in the maintenance phase (the clinician's "open"): not closed, not a waiting self-referral."""
        return self.status not in NOT_OPEN_STATUSES

    @is_open.inplace.expression
    @classmethod
    def _is_open_expression(cls):
        # One plain comparison per status, not NOT IN: an expanding list is rendered
        # anew on every execution, and this is in the session's statement (issue 25).
        return and_(*(cls.status != status for status in NOT_OPEN_STATUSES))

    @hybrid_property
    def has_access(self) -> bool:
        """Active or in the maintenance phase: the patient can use the programme."""
        return self.status in ACCESS_STATUSES

    @has_access.inplace.expression
    @classmethod
    def _has_access_expression(cls):
        return cls.status.in_(ACCESS_STATUSES)

    def days_elapsed(self, now: datetime | None = None) -> int | None:
        """Whole days since the patient started, or None before they started."""
        if self.started_at is None:
            return None
        end = self.closed_at or now or utcnow()
        return max(0, (end - self.started_at).days)


class EnrolmentVisit(db.Model):
    """When one clinician last opened one enrolment: what is "new" is new since then.

    A visit is a series of page views less than VISIT_GAP apart, so reloading the
    page or moving between its sections does not make everything old again:
    ``since`` moves to the end of the previous visit only when a new visit begins.
    """

    __tablename__ = "enrolment_visit"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), primary_key=True)
    # The end of the previous visit; None on the first one.
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest page view of the current visit.
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduleEntry(db.Model):
    """The clinician's change to one module's place in an enrolment's schedule.

    Without a row the programme's pace decides (all open, or one a week from
    the start). A row can move the opening time or leave the module out.
    """

    __tablename__ = "schedule_entry"
    __table_args__ = (UniqueConstraint("enrolment_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(String(64))
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModuleProgress(db.Model):
    """What a patient has done in one module: pages seen, time spent, done or not."""

    __tablename__ = "module_progress"
    __table_args__ = (UniqueConstraint("enrolment_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(String(64))
    # Bit n set = page n+1 seen. Modules have far fewer than 63 pages.
    pages_seen_mask: Mapped[int] = mapped_column(BigInteger, default=0)
    last_page: Mapped[int] = mapped_column(Integer, default=1)
    seconds_spent: Mapped[int] = mapped_column(Integer, default=0)
    first_opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def pages_seen(self) -> int:
        return bin(self.pages_seen_mask or 0).count("1")


class Answer(db.Model):
    """The patient's current answer to one block (reflection, task or rating).

    Keyed by the block id written in the content, so editing the text of a
    module never orphans an answer. Every saved state is also kept as an
    AnswerVersion; ``version`` counts them and detects edits from two tabs.
    """

    __tablename__ = "answer"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "block_id"),
        CheckConstraint("kind IN ('reflection', 'task', 'rating')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="RESTRICT"), index=True)
    module_id: Mapped[str] = mapped_column(String(64))
    block_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[int | None] = mapped_column(Integer)
    # Ticked task items, as comma-separated item numbers ("0,2").
    checked_items: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The content release the answer was last saved in (Catalogue.version_label).
    content_release: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def checked(self) -> set[int]:
        return checked_numbers(self.checked_items)


def checked_numbers(checked_items: str) -> set[int]:
    """The ticked items of a checklist answer, stored as "1,3"."""
    return {int(n) for n in checked_items.split(",") if n.strip().isascii() and n.strip().isdigit()}


class AnswerVersion(db.Model):
    """Every state an answer has been saved in, including conflicting saves."""

    __tablename__ = "answer_version"
    __table_args__ = (Index("ix_answer_version_answer_saved", "answer_id", "saved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answer.id", ondelete="CASCADE"))
    # The answer version this became; None for a conflicting save that did not win.
    version: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[int | None] = mapped_column(Integer)
    checked_items: Mapped[str] = mapped_column(String(200), default="")
    is_conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    # The content release the patient was given the question in.
    content_release: Mapped[str] = mapped_column(String(40), default="")
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EnrolmentEvent(db.Model):
    """What happened to an enrolment and who did it: opened, closed, handed over…

    Kept for the history on the enrolment page, which both the old and the new
    clinician (or care unit) see after a hand-over.
    """

    __tablename__ = "enrolment_event"
    __table_args__ = (Index("ix_enrolment_event_enrolment_at", "enrolment_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # opened, closed, reopened, extended, maintenance, handed_over, welcome_edited, schedule_changed
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500), default="")

    actor: Mapped[User | None] = relationship()


class DiaryEntry(db.Model):
    """What the patient registered in one diary for one day: one row per (diary, day).

    A diary block (``::: diary``) defines the values; ``values`` holds them as
    JSON {value id: number} (yes/no as 1/0). Registering the same day again
    changes the row and keeps the earlier state as a DiaryEntryVersion, like answers.
    """

    __tablename__ = "diary_entry"
    # The unique constraint's index also serves the diary page's query (enrolment, diary, days in order).
    __table_args__ = (UniqueConstraint("enrolment_id", "block_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="RESTRICT"))
    module_id: Mapped[str] = mapped_column(String(64))
    block_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    values: Mapped[str] = mapped_column(Text, default="{}")
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def numbers(self) -> dict[str, float]:
        """The registered values as {value id: number}; anything unreadable is left out."""
        try:
            data = json.loads(self.values or "{}")
        except ValueError:
            return {}
        return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)} \
            if isinstance(data, dict) else {}


class DiaryEntryVersion(db.Model):
    """Every state a day's registration has been saved in."""

    __tablename__ = "diary_entry_version"
    __table_args__ = (Index("ix_diary_entry_version_entry_saved", "entry_id", "saved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("diary_entry.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    values: Mapped[str] = mapped_column(Text, default="{}")
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
