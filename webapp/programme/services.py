"""The patient's work in a programme: the module schedule, progress and answers."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort
from sqlalchemy import BigInteger, Integer, bindparam, func, inspect, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webapp.content.services import OPENINGS, Module, Programme, get_catalogue
from webapp.core.db import ASYNCHRONOUS_COMMIT, UTCDateTime, asynchronous_commit_column, utcnow
from webapp.core.numbers import int_or_none
from webapp.extensions import db
from webapp.programme.models import (
    Answer,
    AnswerVersion,
    Enrolment,
    ModuleProgress,
    ScheduleEntry,
    checked_numbers,
)
from webapp.programme.signals import programme_completed

# "Last active" is for the clinician's overview; minutes of precision are plenty,
# and writing on every request would make every page view a database write.
LAST_ACTIVE_RESOLUTION = timedelta(minutes=5)
# Time on a page beyond this is not counted as reading (the phone was put away).
MAX_SECONDS_PER_PAGE = 10 * 60
ANSWER_MAX_LENGTH = 10_000


class AnswerError(Exception):
    """An answer that cannot be saved; ``code`` picks the message."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class AnswerConflict(Exception):
    """The answer changed elsewhere (another tab) since this text was loaded."""

    def __init__(self, answer: Answer):
        super().__init__("conflict")
        self.answer = answer


def record_activity(enrolments: list[Enrolment], now: datetime | None = None) -> bool:
    """Move last_active_at forward if it is older than the resolution; True if changed."""
    now = now or utcnow()
    changed = False
    for enrolment in enrolments:
        if enrolment.last_active_at is None or now - enrolment.last_active_at >= LAST_ACTIVE_RESOLUTION:
            enrolment.last_active_at = now
            changed = True
    return changed


# --- schedule ----------------------------------------------------------------


@dataclass
class ScheduledModule:
    module: Module
    # None: the module waits for the clinician's feedback on the one before.
    opens_at: datetime | None
    is_skipped: bool
    is_open: bool
    progress: ModuleProgress | None
    # False: the schedule was read without progress (a page view or a save needs only
    # whether the module is open); progress_of() reads this module's row when needed.
    progress_known: bool = True

    @property
    def waits_for_feedback(self) -> bool:
        return self.opens_at is None and not self.is_skipped

    @property
    def is_done(self) -> bool:
        return bool(self.progress and self.progress.completed_at)


def schedule_for(enrolment: Enrolment, programme: Programme, now: datetime | None = None, *,
                 with_progress: bool = True) -> list[ScheduledModule]:
    """Every published module with when it opens, whether it is open and progress.

    Two queries whatever the number of modules: the clinician's schedule
    changes (none on the patient's pages, which read them beside the session)
    and the progress rows (none with ``with_progress=False``).
    """
    return schedules_for([(enrolment, programme)], now, with_progress=with_progress)[enrolment.id]


def schedules_for(pairs: list[tuple[Enrolment, Programme]],
                  now: datetime | None = None, *, with_progress: bool = True) -> dict[int, list[ScheduledModule]]:
    """schedule_for() for several enrolments (the start page), still in two queries.

    Returns {enrolment id: schedule}.
    """
    now = now or utcnow()
    ids = [enrolment.id for enrolment, _programme in pairs]
    overrides: dict[int, dict[str, ScheduleEntry]] = {i: {} for i in ids}
    progress: dict[int, dict[str, ModuleProgress]] = {i: {} for i in ids}
    # The patient's own pages read the clinician's changes beside the session (enrolments.py).
    preloaded = all("schedule_entries" not in inspect(enrolment).unloaded for enrolment, _programme in pairs)
    if preloaded:
        for enrolment, _programme in pairs:
            overrides[enrolment.id] = {row.module_id: row for row in enrolment.schedule_entries}
    if ids:
        if not preloaded:
            for row in db.session.scalars(_SCHEDULE_ENTRIES, {"ids": ids}):
                overrides[row.enrolment_id][row.module_id] = row
        if with_progress:
            for row in db.session.scalars(_PROGRESS, {"ids": ids}):
                progress[row.enrolment_id][row.module_id] = row
    return {enrolment.id: _schedule(enrolment, programme, overrides[enrolment.id], progress[enrolment.id], now,
                                    with_progress)
            for enrolment, programme in pairs}


def _schedule(enrolment: Enrolment, programme: Programme, overrides: dict[str, ScheduleEntry],
              progress: dict[str, ModuleProgress], now: datetime, with_progress: bool = True) -> list[ScheduledModule]:
    start = enrolment.started_at or enrolment.created_at
    is_open_enrolment = enrolment.has_access
    opening = opening_of(enrolment, programme)
    # In the maintenance phase nothing new opens: only what was due before it began.
    cutoff = min(now, enrolment.maintenance_at) if enrolment.maintenance_at else now
    result = []
    planned = 0  # modules before this one that are in the patient's plan
    for index, module in enumerate(programme.published_modules):
        override = overrides.get(module.id)
        skipped = bool(override and override.is_skipped)
        opens_at: datetime | None
        if opening == "at-once":
            opens_at = start
        elif opening == "after-feedback":
            # The first module of the plan opens at the start; each later one when the
            # clinician's feedback opens it (a schedule entry with its time).
            opens_at = start if planned == 0 else None
        else:
            opens_at = start + timedelta(weeks=index) if programme.pace == "weekly" else start
        if override is not None and override.opens_at is not None:
            opens_at = override.opens_at
        if not skipped:
            planned += 1
        result.append(ScheduledModule(
            module=module, opens_at=opens_at, is_skipped=skipped,
            is_open=is_open_enrolment and not skipped and opens_at is not None and opens_at <= cutoff,
            progress=progress.get(module.id), progress_known=with_progress,
        ))
    return result


def opening_of(enrolment: Enrolment, programme: Programme) -> str:
    """How this enrolment's modules open: its own choice, else the programme's."""
    return enrolment.opening if enrolment.opening in OPENINGS else programme.opening


def next_module(schedule: list[ScheduledModule]) -> ScheduledModule | None:
    """The module feedback opens: the first one of the plan, in order, that is not open yet."""
    return next((s for s in schedule if not s.is_skipped and not s.is_open), None)


def open_next_module(enrolment: Enrolment, schedule: list[ScheduledModule],
                     now: datetime | None = None) -> ScheduledModule | None:
    """Open exactly the next module of the plan now (feedback given); None if all are open."""
    item = next_module(schedule)
    if item is None:
        return None
    now = now or utcnow()
    entry = db.session.scalar(select(ScheduleEntry).where(
        ScheduleEntry.enrolment_id == enrolment.id, ScheduleEntry.module_id == item.module.id))
    if entry is None:
        entry = ScheduleEntry(enrolment_id=enrolment.id, module_id=item.module.id, is_skipped=False)
        db.session.add(entry)
    entry.opens_at = now
    entry.updated_at = now
    item.opens_at, item.is_open = now, enrolment.has_access and enrolment.maintenance_at is None
    return item


def find_scheduled(schedule: list[ScheduledModule], module_id: str) -> ScheduledModule:
    """The module if it is open to the patient now; otherwise 404, as if it did not exist."""
    for item in schedule:
        if item.module.id == module_id and item.is_open:
            return item
    abort(404)


def progress_counts(schedule: list[ScheduledModule]) -> tuple[int, int]:
    """(modules done, modules in the patient's plan)."""
    planned = [s for s in schedule if not s.is_skipped]
    return sum(1 for s in planned if s.is_done), len(planned)


def next_to_open(schedule: list[ScheduledModule]) -> ScheduledModule | None:
    """The module the patient gets next: the earliest dated one, else one waiting for feedback."""
    upcoming = [s for s in schedule if not s.is_skipped and not s.is_open]
    dated = [s for s in upcoming if s.opens_at is not None]
    if dated:
        return min(dated, key=lambda s: s.opens_at)
    return upcoming[0] if upcoming else None


def continue_point(schedule: list[ScheduledModule]) -> tuple[ScheduledModule, int] | None:
    """Where to continue: the last module read and its page, else the first open one not done."""
    opened = [s for s in schedule if s.is_open and s.progress]
    if opened:
        latest = max(opened, key=lambda s: s.progress.last_opened_at)
        if not latest.is_done:
            return latest, latest.progress.last_page
    for item in schedule:
        if item.is_open and not item.is_done:
            return item, item.progress.last_page if item.progress else 1
    return None


# --- progress ----------------------------------------------------------------


@functools.cache
def _page_view_statement(dialect: str):
    """record_page_view()'s upsert, built once per database dialect, returning the ORM row."""
    table = ModuleProgress.__table__
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    now = bindparam("now", type_=UTCDateTime())
    bit = bindparam("bit", type_=BigInteger())
    upsert = insert(table).values(
        enrolment_id=bindparam("enrolment_id"), module_id=bindparam("module_id"), pages_seen_mask=bit,
        seconds_spent=bindparam("elapsed", type_=Integer()), first_opened_at=now, last_opened_at=now,
        last_page=bindparam("page", type_=Integer()))
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c.enrolment_id, table.c.module_id],
        set_={"pages_seen_mask": func.coalesce(table.c.pages_seen_mask, 0).op("|")(bit),
              "seconds_spent": func.coalesce(table.c.seconds_spent, 0) + bindparam("elapsed", type_=Integer()),
              "last_page": bindparam("page", type_=Integer()), "last_opened_at": now},
    ).returning(*table.c, *asynchronous_commit_column(dialect))
    return select(ModuleProgress).from_statement(upsert)


_PROGRESS_OF_MODULE = select(ModuleProgress).where(ModuleProgress.enrolment_id == bindparam("enrolment_id"),
                                                   ModuleProgress.module_id == bindparam("module_id"))


def progress_of(enrolment: Enrolment, scheduled: ScheduledModule) -> ModuleProgress | None:
    """The module's progress, read now if the schedule was read without it."""
    if not scheduled.progress_known:
        scheduled.progress = db.session.scalar(_PROGRESS_OF_MODULE, {"enrolment_id": enrolment.id,
                                                                     "module_id": scheduled.module.id})
        scheduled.progress_known = True
    return scheduled.progress


def record_page_view(enrolment: Enrolment, scheduled: ScheduledModule, page: int, reading: dict | None,
                     now: datetime | None = None) -> ModuleProgress:
    """Mark a page as seen and add the time since the previous page of this module.

    ``reading`` is what the cookie session remembers of the previous page view:
    ``{"key": "<enrolment>:<module>", "at": <epoch seconds>}``.

    One statement that reads nothing first: an upsert that adds to the row in
    the database (two tabs lose neither's pages or time) and returns it. Its
    commit does not wait for the disk unless the transaction writes something
    else too (``core.db.asynchronous_commit_column``): a database crash may
    lose the last page views, never what the patient wrote.
    """
    now = now or utcnow()
    elapsed = 0
    if reading and reading.get("key") == f"{enrolment.id}:{scheduled.module.id}":
        elapsed = int(now.timestamp() - reading.get("at", now.timestamp()))
        if not 0 < elapsed <= MAX_SECONDS_PER_PAGE:
            elapsed = 0
    params = {"enrolment_id": enrolment.id, "module_id": scheduled.module.id, "bit": 1 << (page - 1),
              "elapsed": elapsed, "page": page, "now": now}
    statement = _page_view_statement(db.session.get_bind().dialect.name)
    progress = db.session.scalars(statement, params, execution_options={"populate_existing": True,
                                                                         ASYNCHRONOUS_COMMIT: True}).one()
    scheduled.progress, scheduled.progress_known = progress, True
    return progress


def mark_done(enrolment: Enrolment, programme: Programme, scheduled: ScheduledModule) -> None:
    """Mark a module done; with the last one, the programme is completed."""
    progress = scheduled.progress
    if progress is None:
        progress = ModuleProgress(enrolment_id=enrolment.id, module_id=scheduled.module.id, pages_seen_mask=0,
                                  seconds_spent=0, last_page=1)
        db.session.add(progress)
    if progress.completed_at is None:
        progress.completed_at = utcnow()
        scheduled.progress = progress
        done, total = progress_counts(schedule_for(enrolment, programme))
        if total and done == total:
            programme_completed.send(enrolment)


# --- answers -----------------------------------------------------------------


# The hottest reads are built once and reused with bound parameters: building a
# statement and its cache key anew on every request cost more than running it.
_ANSWERS = select(Answer).where(Answer.enrolment_id == bindparam("enrolment_id"))
_ANSWERS_OF_MODULE = _ANSWERS.where(Answer.module_id == bindparam("module_id"))
_ANSWER_FOR_UPDATE = (select(Answer).where(Answer.enrolment_id == bindparam("enrolment_id"),
                                            Answer.block_id == bindparam("block_id")).with_for_update())
_SCHEDULE_ENTRIES = select(ScheduleEntry).where(ScheduleEntry.enrolment_id.in_(bindparam("ids", expanding=True)))
_PROGRESS = select(ModuleProgress).where(ModuleProgress.enrolment_id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class ShownAnswer:
    """An answer as its page shows it: what was written and the version a save is based on."""

    text: str
    value: int | None
    checked: set[int]
    version: int


_ANSWER_COLUMNS = Answer.__table__.c
# Columns of the table, not the ORM class: a page only shows its answers, and
# building ORM objects was a tenth of the module page's work (issue 25).
_SHOWN_ANSWERS = (select(_ANSWER_COLUMNS.block_id, _ANSWER_COLUMNS.text, _ANSWER_COLUMNS.value,
                         _ANSWER_COLUMNS.checked_items, _ANSWER_COLUMNS.version)
                  .where(_ANSWER_COLUMNS.enrolment_id == bindparam("enrolment_id"),
                         _ANSWER_COLUMNS.module_id == bindparam("module_id")))


def shown_answers(enrolment: Enrolment, module_id: str) -> dict[str, ShownAnswer]:
    """The answers of one module for its pages, by block id (read as plain rows)."""
    rows = db.session.execute(_SHOWN_ANSWERS, {"enrolment_id": enrolment.id, "module_id": module_id})
    return {row.block_id: ShownAnswer(row.text, row.value, checked_numbers(row.checked_items), row.version)
            for row in rows}


def answers_for(enrolment: Enrolment, module_id: str | None = None) -> dict[str, Answer]:
    if module_id is None:
        rows = db.session.scalars(_ANSWERS, {"enrolment_id": enrolment.id})
    else:
        rows = db.session.scalars(_ANSWERS_OF_MODULE, {"enrolment_id": enrolment.id, "module_id": module_id})
    return {a.block_id: a for a in rows}


def answer_block(programme: Programme, block_id: str) -> tuple[Module, str, int] | None:
    """(module, kind, item count) of an answer block in the programme, or None."""
    for module in programme.published_modules:
        for kind, found_id, items in module.answer_ids():
            if found_id == block_id:
                return module, kind, items
    return None


def clean_answer(kind: str, items: int, text: str | None, value: str | None, checked: list[str]) -> dict:
    """Validate what the form sent; raise AnswerError with a code for the message."""
    text = (text or "").replace("\r\n", "\n").replace("\x00", "")
    if len(text) > ANSWER_MAX_LENGTH:
        raise AnswerError("too_long")
    result = {"text": text, "value": None, "checked_items": ""}
    if kind == "rating":
        if value in (None, ""):
            result["value"] = None
        elif (number := int_or_none(value, 0, 10)) is None:
            raise AnswerError("bad_value")
        else:
            result["value"] = number
    if kind == "task":
        numbers = {int_or_none(n, 0, max(items - 1, 0)) for n in checked}
        if None in numbers or (numbers and items == 0):
            raise AnswerError("bad_value")
        ticked = sorted(numbers)
        result["checked_items"] = ",".join(str(n) for n in ticked)
    return result


def save_answer(enrolment: Enrolment, module: Module, block_id: str, kind: str, cleaned: dict,
                base_version: int | None) -> Answer:
    """Save a new state of an answer, keeping the earlier ones.

    ``base_version`` is the version the browser started from. If the answer has
    moved on since (another tab saved), the text is kept as a conflicting
    version and AnswerConflict is raised, so nothing is silently overwritten.
    """
    answer = db.session.scalar(_ANSWER_FOR_UPDATE, {"enrolment_id": enrolment.id, "block_id": block_id})
    now = utcnow()
    release = get_catalogue().version_label
    if answer is None:
        answer = Answer(enrolment_id=enrolment.id, module_id=module.id, block_id=block_id, kind=kind,
                        version=0, text="", checked_items="", created_at=now, updated_at=now)
        db.session.add(answer)
        db.session.flush()
    same = (answer.text == cleaned["text"] and answer.value == cleaned["value"]
            and answer.checked_items == cleaned["checked_items"])
    if base_version is not None and base_version != answer.version and not same:
        db.session.add(AnswerVersion(answer_id=answer.id, version=None, is_conflict=True, saved_at=now,
                                     content_release=release, **cleaned))
        raise AnswerConflict(answer)
    if same and answer.version > 0:
        return answer  # nothing changed (autosave after a save by form)
    answer.text, answer.value, answer.checked_items = cleaned["text"], cleaned["value"], cleaned["checked_items"]
    answer.version += 1
    answer.updated_at = now
    answer.content_release = release
    db.session.add(AnswerVersion(answer_id=answer.id, version=answer.version, is_conflict=False, saved_at=now,
                                 content_release=release, **cleaned))
    return answer


# --- summary -----------------------------------------------------------------


@dataclass
class SummaryItem:
    kind: str
    question_html: object
    answer: Answer
    items: tuple = ()


def summary_for(enrolment: Enrolment, programme: Programme, lang: str) -> list[tuple[Module, object, list[SummaryItem]]]:
    """Everything the patient wrote, ticked and rated, grouped by module in order."""
    answers = answers_for(enrolment)
    result = []
    for module in programme.published_modules:
        version, _fallback = module.version(lang)
        items = []
        for page in version.pages:
            for segment in page.segments:
                answer = answers.get(segment.id) if segment.id else None
                if segment.kind in ("reflection", "task", "rating") and answer is not None and answer.version > 0:
                    items.append(SummaryItem(kind=segment.kind, question_html=segment.html, answer=answer,
                                             items=segment.items))
        if items:
            result.append((module, version, items))
    return result
