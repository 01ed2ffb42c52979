"""The clinician's enrolment page: what is new since their last visit, the next
step, the answers by module and the outcome of each questionnaire.

Kept apart from ``services`` (the caseload) because it composes several
features for one page; every function works on rows the view has already
loaded, or costs a fixed number of queries, so the page's statement count does
not grow with answers, messages or questionnaires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, func, literal, select, union_all

from webapp.content.services import Module, Programme
from webapp.extensions import db
from webapp.messages.models import Message
from webapp.programme.models import Answer, Enrolment
from webapp.programme.services import ScheduledModule, next_module, opening_of


@dataclass
class ScoreChange:
    form: object
    total: float
    previous: float | None
    band: str | None
    submitted_at: datetime


@dataclass
class WhatsNew:
    """What happened since ``since`` (None: since the start, on the clinician's first visit)."""
    since: datetime | None
    answers_by_module: list[tuple[Module, int]] = field(default_factory=list)
    modules_done: list[ScheduledModule] = field(default_factory=list)
    messages: int = 0
    questionnaires: list[ScoreChange] = field(default_factory=list)

    @property
    def answer_count(self) -> int:
        return sum(n for _module, n in self.answers_by_module)

    @property
    def is_empty(self) -> bool:
        return not (self.answers_by_module or self.modules_done or self.messages or self.questionnaires)


def new_since(enrolment: Enrolment, since: datetime | None) -> datetime | None:
    """Answers are new after the clinician's last visit and after the last feedback, whichever is later."""
    marks = [t for t in (since, enrolment.answers_read_at) if t is not None]
    return max(marks) if marks else None


def whats_new(enrolment: Enrolment, programme: Programme | None, schedule: list[ScheduledModule],
              dispatches: list, forms: dict, since: datetime | None) -> WhatsNew:
    """The overview's list: one query (answers per module and patient messages), the rest from loaded rows."""
    result = WhatsNew(since=since)
    answers_after = new_since(enrolment, since)
    query = (select(Answer.module_id.label("module_id"), func.count().label("n"))
             .where(Answer.enrolment_id == enrolment.id, Answer.version > 0).group_by(Answer.module_id))
    if answers_after is not None:
        query = query.where(Answer.updated_at > answers_after)
    # The patient's messages ride along as the row without a module (an answer always has one).
    messages = select(literal(None, String).label("module_id"), func.count().label("n")).select_from(Message).where(
        Message.enrolment_id == enrolment.id, Message.side == "patient")
    if since is not None:
        messages = messages.where(Message.created_at > since)
    counts = dict(db.session.execute(union_all(query, messages)).all())
    result.messages = counts.pop(None, 0) or 0
    if programme is not None:
        result.answers_by_module = [(m, counts[m.id]) for m in programme.published_modules if counts.get(m.id)]
    result.modules_done = [s for s in schedule if s.is_done and (since is None or s.progress.completed_at > since)]
    # dispatches come newest first; the previous score of a form is the answer before it.
    answered = sorted((d.submission for d in dispatches if d.submission is not None), key=lambda s: s.submitted_at)
    previous: dict[str, float] = {}
    for submission in answered:
        form = forms.get(submission.form_id)
        if submission.total is not None and form is not None and (since is None or submission.submitted_at > since):
            result.questionnaires.append(ScoreChange(form, submission.total, previous.get(submission.form_id),
                                                     submission.band, submission.submitted_at))
        if submission.total is not None:
            previous[submission.form_id] = submission.total
    result.questionnaires.reverse()  # newest first
    return result


def next_step(enrolment: Enrolment, programme: Programme | None, schedule: list[ScheduledModule],
              new: WhatsNew, conversation) -> tuple[str, ScheduledModule | None]:
    """What the clinician most likely does next, as a key the template words, and the module it concerns.

    In order: a safety answer, a message waiting, answers to give feedback on,
    a module waiting for feedback, then the module that opens next.
    """
    if not enrolment.is_open:
        return "closed", None
    if enrolment.safety_flag_at is not None:
        return "safety", None
    if conversation is not None and conversation.waiting_since is not None:
        return "message", None
    upcoming = next_module(schedule)
    waiting = programme is not None and opening_of(enrolment, programme) == "after-feedback"
    if new.answer_count or new.modules_done:
        return ("feedback_opens" if waiting and upcoming is not None else "feedback"), upcoming
    if upcoming is not None and upcoming.waits_for_feedback:
        return "waiting_feedback", upcoming
    if enrolment.status == "invited":
        return "invited", None
    if upcoming is not None:
        return "next_module", upcoming
    return "nothing", None


def answers_by_module(programme: Programme, summary: list, since: datetime | None) -> list[tuple]:
    """The summary's modules, the one answered most recently first, each item with "is new".

    Returns [(module, version, [(item, is_new)], latest answer time)].
    """
    result = []
    for module, version, items in summary:
        marked = sorted(((item, since is None or item.answer.updated_at > since) for item in items),
                        key=lambda pair: pair[0].answer.updated_at, reverse=True)
        result.append((module, version, marked, max(item.answer.updated_at for item in items)))
    result.sort(key=lambda row: row[3], reverse=True)
    return result


# --- outcomes --------------------------------------------------------------------------


@dataclass
class OutcomeRow:
    timepoint: tuple[str, int | None]   # ("before" | "week" | "after" | "follow_up", week number)
    submission: object
    change: float | None                # from the first score
    is_reliable: bool


def timepoint(dispatch, enrolment: Enrolment) -> tuple[str, int | None]:
    """When in the programme an answer was given: before, week N, after or follow-up."""
    if dispatch.purpose == "before":
        return "before", None
    if dispatch.purpose == "after":
        return "after", None
    if dispatch.purpose.startswith("day-"):
        return "follow_up", None
    start = enrolment.started_at
    at = dispatch.submission.submitted_at if dispatch.submission else dispatch.send_at
    if start is None or at < start:
        return "before", None
    return "week", (at - start).days // 7 + 1


def outcomes(enrolment: Enrolment, dispatches: list, forms: dict) -> list[tuple[object, list[OutcomeRow], list]]:
    """Per questionnaire: every score in time order with its timepoint and change; no queries.

    Returns [(form, rows, submissions in time order)] in the order forms were first answered.
    """
    by_form: dict[str, list] = {}
    for dispatch in sorted((d for d in dispatches if d.submission is not None),
                           key=lambda d: d.submission.submitted_at):
        by_form.setdefault(dispatch.form_id, []).append(dispatch)
    result = []
    for form_id, answered in by_form.items():
        form = forms.get(form_id)
        if form is None:
            continue
        first = next((d.submission.total for d in answered if d.submission.total is not None), None)
        rows = []
        for dispatch in answered:
            total = dispatch.submission.total
            change = total - first if total is not None and first is not None else None
            reliable = bool(form.reliable_change and change is not None and abs(change) >= form.reliable_change.points)
            rows.append(OutcomeRow(timepoint(dispatch, enrolment), dispatch.submission, change, reliable))
        result.append((form, rows, [d.submission for d in answered]))
    return result
