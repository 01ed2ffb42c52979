"""Administration: care units, staff, the access log and aggregate follow-up."""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import unquote

from flask_babel import format_decimal, format_percent, get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from webapp.admin.labels import action_label
from webapp.auth.models import CareUnit, Membership, User
from webapp.auth.views import ROLE_LABELS
from webapp.careplan.models import CarePlan, CarePlanVersion, FollowUpContact
from webapp.content.services import get_catalogue
from webapp.core.audit import AccessLogEntry, concerns_patient
from webapp.core.dates import day_end, day_start, format_day
from webapp.core.db import utcnow
from webapp.core.identity import IdentityError, normalise_personal_number
from webapp.core.numbers import int_or_none
from webapp.extensions import db
from webapp.programme.enrolments import INACTIVE_DAYS
from webapp.programme.models import Enrolment, EnrolmentStatus, ModuleProgress, ScheduleEntry
from webapp.questionnaires.models import Dispatch, Submission
from webapp.questionnaires.scoring import is_improvement

ACCESS_LOG_PAGE = 200


def units_with_counts() -> list[tuple[CareUnit, int]]:
    return list(
        db.session.execute(
            select(CareUnit, func.count(Membership.id))
            .outerjoin(Membership)
            .group_by(CareUnit.id)
            .order_by(CareUnit.name)
        )
    )


def staff() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role != "patient").order_by(User.full_name)))


def still_responsible(user: User, unit_id: int | None = None) -> int:
    """Open enrolments (at one unit, or anywhere) that still name this person as responsible clinician."""
    query = select(func.count()).select_from(Enrolment).where(Enrolment.responsible_clinician_id == user.id,
                                                             Enrolment.is_open)
    if unit_id is not None:
        query = query.where(Enrolment.care_unit_id == unit_id)
    return db.session.scalar(query) or 0


@dataclass
class AccessLogFilters:
    patient: str = ""   # personal identity number or user id
    staff: str = ""     # e-mail or user id
    start: date | None = None
    end: date | None = None


def _resolve_patient(value: str) -> int | None:
    """A patient's id from an id or a personal identity number; -1 matches nobody."""
    value = value.strip()
    if not value:
        return None
    # Short numbers are ids; a personal identity number has ten or twelve digits.
    if len(value) < 10 and (user_id := int_or_none(value)) is not None:
        return user_id
    try:
        number = normalise_personal_number(value)
    except IdentityError:
        return -1
    return db.session.scalar(select(User.id).where(User.personal_number == number)) or -1


def _resolve_staff(value: str) -> int | None:
    """A staff member's id from an id or an e-mail address; -1 matches nobody."""
    value = value.strip()
    if not value:
        return None
    if (user_id := int_or_none(value)) is not None:
        return user_id
    return db.session.scalar(select(User.id).where(User.email == value.lower())) or -1


def access_log(filters: AccessLogFilters, limit: int | None = ACCESS_LOG_PAGE) -> list[tuple[AccessLogEntry, User | None, User | None]]:
    """Entries newest first with the staff member and patient they name."""
    actor, patient = aliased(User), aliased(User)
    query = (select(AccessLogEntry, actor, patient)
             .outerjoin(actor, actor.id == AccessLogEntry.actor_id)
             .outerjoin(patient, patient.id == AccessLogEntry.patient_id)
             .order_by(AccessLogEntry.id.desc()))
    patient_id = _resolve_patient(filters.patient)
    if patient_id is not None:
        query = query.where(concerns_patient(patient_id))
    staff_id = _resolve_staff(filters.staff)
    if staff_id is not None:
        # What they did, and what administrators did to their account (``staff=<id>`` comes first).
        query = query.where(or_(AccessLogEntry.actor_id == staff_id,
                                AccessLogEntry.detail == f"staff={staff_id}",
                                AccessLogEntry.detail.like(f"staff={staff_id} %")))
    if filters.start:
        query = query.where(AccessLogEntry.at >= day_start(filters.start))
    if filters.end:
        query = query.where(AccessLogEntry.at < day_end(filters.end))
    if limit:
        query = query.limit(limit)
    return [tuple(row) for row in db.session.execute(query)]


@dataclass
class ReadableEntry:
    """An access-log row as an administrator reads it: the action and its details in words."""
    entry: AccessLogEntry
    actor: User | None
    patient: User | None
    action: str
    details: list[str]
    # The recorded detail when it is not one of the structured kinds put into words above.
    recorded: str | None


def _key_values(detail: str | None) -> dict[str, str] | None:
    """``staff=12 unit=3 sessions=2`` as a dict; None for free text."""
    if not detail:
        return None
    pairs = [part.partition("=") for part in detail.split(" ")]
    if not all(sep and key.isidentifier() for key, sep, _value in pairs):
        return None
    return {key: value for key, _sep, value in pairs}


def readable_access_log(rows) -> list[ReadableEntry]:
    """Put each row into words, looking up the staff, units and programmes named (a few queries per page)."""
    structured = [_key_values(entry.detail) for entry, _a, _p in rows]
    staff_ids = {int(kv["staff"]) for kv in structured if kv and kv.get("staff", "").isdigit()}
    unit_ids = {int(u) for kv in structured if kv for key in ("unit", "units")
                for u in kv.get(key, "").split(",") if u.isdigit()}
    enrolment_ids = {entry.enrolment_id for entry, _a, _p in rows if entry.enrolment_id}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(staff_ids)))} if staff_ids else {}
    units = {u.id: u for u in db.session.scalars(select(CareUnit).where(CareUnit.id.in_(unit_ids)))} if unit_ids else {}
    programmes = dict(db.session.execute(select(Enrolment.id, Enrolment.programme_id)
                                         .where(Enrolment.id.in_(enrolment_ids))).all()) if enrolment_ids else {}
    catalogue = get_catalogue()
    result = []
    for (entry, actor, patient), kv in zip(rows, structured, strict=True):
        details = []
        if entry.enrolment_id:
            programme_id = programmes.get(entry.enrolment_id)
            title = catalogue.title(programme_id, _locale()) if programme_id else ""
            details.append(_("Enrolment %(number)s", number=entry.enrolment_id) + (f": {title}" if title else ""))
        if entry.patient_ids:
            shown = entry.patient_ids.strip(",").count(",") + 1
            details.append(ngettext("%(num)d patient shown", "%(num)d patients shown", shown))
        recorded = entry.detail
        if kv is not None:
            recorded = None
            for key, value in kv.items():
                details.append(_describe(key, value, people, units))
        result.append(ReadableEntry(entry, actor, patient, action_label(entry.action), [d for d in details if d],
                                    recorded))
    return result


def _locale() -> str:
    return str(get_locale() or "sv")


def _role(value: str) -> str:
    return str(ROLE_LABELS.get(value, value))


def _describe(key: str, value: str, people: dict, units: dict) -> str:
    """One ``key=value`` of a structured detail in words."""
    if key == "staff" and value.isdigit():
        person = people.get(int(value))
        if person is None:
            return _("Staff member number %(number)s", number=value)
        return _("Staff member: %(name)s (%(email)s)", name=person.full_name, email=person.email)
    if key in ("unit", "units"):
        names = [units[int(u)].name if int(u) in units else _("care unit number %(number)s", number=u)
                 for u in value.split(",") if u.isdigit()]
        return _("Care unit: %(names)s", names=", ".join(names)) if names else ""
    if key == "role":
        return _("Role: %(role)s", role=_role(value))
    if key == "before":
        return _("Role before: %(role)s", role=_role(value))
    if key == "after":
        return _("Role now: %(role)s", role=_role(value))
    if key == "sessions" and value.isdigit():
        return ngettext("%(num)d session ended", "%(num)d sessions ended", int(value))
    if key in COUNTS and value.isdigit():
        return COUNTS[key](int(value))
    if key in NUMBERS and value.isdigit():
        return NUMBERS[key](value)
    if key == "programme":
        return _("Programme: %(title)s", title=get_catalogue().title(value, _locale()) or value)
    if key == "form":
        if value == "all":
            return _("All questionnaires")
        form = get_catalogue().forms.get(value)
        return _("Questionnaire: %(title)s", title=form.title(_locale()) if form else value)
    if key in ("from", "to"):
        day = _day(value)  # "-": no limit on that side, nothing to say
        if day is None:
            return ""
        return _("From %(day)s", day=format_day(day)) if key == "from" else _("To %(day)s", day=format_day(day))
    if key == "search":
        return _("Searched for: %(text)s", text=unquote(value))
    return f"{key}={value}"


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


# Structured details of the views that list patients (``key=count``), in words.
COUNTS = {
    "requests": lambda n: ngettext("%(num)d request", "%(num)d requests", n),
    "responses": lambda n: ngettext("%(num)d questionnaire answer", "%(num)d questionnaire answers", n),
    "rows": lambda n: ngettext("%(num)d row", "%(num)d rows", n),
    "due": lambda n: ngettext("%(num)d contact due", "%(num)d contacts due", n),
    "missed": lambda n: ngettext("%(num)d contact missed", "%(num)d contacts missed", n),
    "members": lambda n: ngettext("%(num)d member", "%(num)d members", n),
    "sends": lambda n: ngettext("%(num)d send", "%(num)d sends", n),
    "listed": lambda n: ngettext("%(num)d patient to choose from", "%(num)d patients to choose from", n),
    "patients": lambda n: ngettext("%(num)d patient", "%(num)d patients", n),
    "waiting": lambda n: ngettext("%(num)d conversation waiting", "%(num)d conversations waiting", n),
    "feedback": lambda n: ngettext("%(num)d waiting for feedback", "%(num)d waiting for feedback", n),
    "open": lambda n: ngettext("%(num)d open", "%(num)d open", n),
    "recent": lambda n: ngettext("%(num)d recent", "%(num)d recent", n),
    "total": lambda n: ngettext("%(num)d in all", "%(num)d in all", n),
}
# ``key=number`` details that name one thing.
NUMBERS = {
    "group": lambda number: _("Group number %(number)s", number=number),
    "round": lambda number: _("Questionnaire send number %(number)s", number=number),
    "alert": lambda number: _("Safety alert number %(number)s", number=number),
    "version": lambda number: _("Version %(number)s", number=number),
    "page": lambda number: _("Page %(number)s", number=number),
}


def access_log_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time_utc", "staff_id", "staff_email", "staff_role", "action", "patient_id",
                     "patient_personal_number", "enrolment_id", "ip_address", "detail"])
    for entry, actor, patient in rows:
        writer.writerow([entry.at.isoformat(), entry.actor_id or "", actor.email if actor else "", entry.actor_role,
                         entry.action, entry.patient_id or "", patient.personal_number if patient else "",
                         entry.enrolment_id or "", entry.ip_address or "", _csv_safe(entry.detail or "")])
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """Stop spreadsheet formula injection: a cell starting with = + - @ is text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


# --- aggregate follow-up ---------------------------------------------------------


@dataclass
class FollowUp:
    unit: CareUnit
    programme_id: str
    active: int
    total: int
    with_clinician_share: float | None
    schedule_set_share: float | None
    inactive_share: float | None
    funnel: list[tuple[str, int]]
    median_days_per_module: float | None
    # Before/after measures: one row per questionnaire with both answers.
    outcomes: list[Outcome] = field(default_factory=list)
    # Care plan agreed by the patient within 30 days of the start (of open enrolments).
    plan_agreed_share: float | None = None
    # Of open enrolments with a follow-up contact due, those whose contacts all took place on time.
    contacts_on_time_share: float | None = None
    # The patients behind each share and the median (for suppressing small cells).
    open_count: int = 0
    contacts_due_count: int = 0
    median_patients: int = 0


@dataclass(frozen=True)
class Outcome:
    """Before/after change on one questionnaire for the patients who answered both."""
    form_id: str
    title: str
    pairs: int
    mean_before: float
    mean_after: float
    improved_share: float | None


def follow_up(units: list[CareUnit], catalogue, now: datetime | None = None) -> list[FollowUp]:
    """Per care unit and programme: counts and shares only, never patient identities."""
    now = now or utcnow()
    results = []
    unit_ids = [u.id for u in units]
    if not unit_ids:
        return results
    enrolments = list(db.session.execute(
        select(Enrolment.id, Enrolment.care_unit_id, Enrolment.programme_id, Enrolment.status,
               Enrolment.responsible_clinician_id, Enrolment.last_active_at, Enrolment.started_at)
        .where(Enrolment.care_unit_id.in_(unit_ids))))
    ids = [e.id for e in enrolments]
    completions = list(db.session.execute(
        select(ModuleProgress.enrolment_id, ModuleProgress.module_id, ModuleProgress.first_opened_at,
               ModuleProgress.completed_at)
        .where(ModuleProgress.enrolment_id.in_(ids), ModuleProgress.completed_at.is_not(None)))) if ids else []
    early_schedules = {row.enrolment_id for row in db.session.execute(
        select(ScheduleEntry.enrolment_id, ScheduleEntry.updated_at, Enrolment.started_at, Enrolment.created_at)
        .join(Enrolment, Enrolment.id == ScheduleEntry.enrolment_id)
        .where(Enrolment.care_unit_id.in_(unit_ids)))
        if row.updated_at - (row.started_at or row.created_at) <= timedelta(days=30)}
    # The first "before" and the latest "after" score per enrolment and questionnaire.
    measured: dict[tuple[int, str], dict[str, float]] = {}
    for row in (db.session.execute(
            select(Submission.enrolment_id, Submission.form_id, Submission.total, Dispatch.purpose)
            .join(Dispatch, Dispatch.id == Submission.dispatch_id)
            .where(Submission.enrolment_id.in_(ids), Submission.total.is_not(None),
                   Dispatch.purpose.in_(["before", "after"])).order_by(Submission.submitted_at)) if ids else []):
        scores = measured.setdefault((row.enrolment_id, row.form_id), {})
        if row.purpose == "after" or "before" not in scores:
            scores[row.purpose] = row.total
    # First agreement to a care plan per enrolment.
    plan_agreed = {row.enrolment_id: row.agreed for row in (db.session.execute(
        select(CarePlan.enrolment_id, func.min(CarePlanVersion.agreed_at).label("agreed"))
        .join(CarePlanVersion, CarePlanVersion.plan_id == CarePlan.id)
        .where(CarePlan.enrolment_id.in_(ids), CarePlanVersion.agreed_at.is_not(None))
        .group_by(CarePlan.enrolment_id)) if ids else [])}
    contacts_due: dict[int, bool] = {}  # enrolment -> all due contacts kept on time
    for row in (db.session.execute(
            select(FollowUpContact.enrolment_id, FollowUpContact.due_at, FollowUpContact.outcome,
                   FollowUpContact.recorded_at)
            .where(FollowUpContact.enrolment_id.in_(ids), FollowUpContact.due_at <= now)) if ids else []):
        on_time = row.outcome == "kept" and row.recorded_at is not None and \
            row.recorded_at <= row.due_at + timedelta(days=CONTACT_GRACE_DAYS)
        contacts_due[row.enrolment_id] = contacts_due.get(row.enrolment_id, True) and on_time
    by_enrolment: dict[int, list] = {}
    for row in completions:
        by_enrolment.setdefault(row.enrolment_id, []).append(row)
    for unit in units:
        for programme_id in sorted({e.programme_id for e in enrolments if e.care_unit_id == unit.id}):
            group = [e for e in enrolments if e.care_unit_id == unit.id and e.programme_id == programme_id]
            open_group = [e for e in group if e.status != EnrolmentStatus.CLOSED.value]  # rows, not models
            programme = catalogue.programmes.get(programme_id)
            funnel = []
            if programme:
                for module in programme.published_modules:
                    funnel.append((module.versions[programme.default_language].title,
                                   sum(1 for e in group if any(c.module_id == module.id for c in by_enrolment.get(e.id, [])))))
            durations = [(c.completed_at - c.first_opened_at).total_seconds() / 86400
                         for e in group for c in by_enrolment.get(e.id, [])]
            results.append(FollowUp(
                unit=unit, programme_id=programme_id,
                active=sum(1 for e in group if e.status == EnrolmentStatus.ACTIVE.value), total=len(group),
                with_clinician_share=_share(sum(1 for e in open_group if e.responsible_clinician_id), open_group),
                schedule_set_share=_share(sum(1 for e in open_group if e.id in early_schedules), open_group),
                inactive_share=_share(sum(1 for e in open_group if e.last_active_at is None
                                          or now - e.last_active_at > timedelta(days=INACTIVE_DAYS)), open_group),
                funnel=funnel,
                median_days_per_module=round(statistics.median(durations), 1) if durations else None,
                outcomes=_outcomes({e.id for e in group}, measured, catalogue),
                plan_agreed_share=_share(sum(
                    1 for e in open_group if e.id in plan_agreed and e.started_at is not None
                    and plan_agreed[e.id] - e.started_at <= timedelta(days=30)), open_group),
                contacts_on_time_share=_share(
                    sum(1 for e in open_group if contacts_due.get(e.id)),
                    [e for e in open_group if e.id in contacts_due]),
                open_count=len(open_group),
                contacts_due_count=sum(1 for e in open_group if e.id in contacts_due),
                median_patients=sum(1 for e in group if by_enrolment.get(e.id)),
            ))
    return results


# A contact recorded as kept within this many days of its time counts as on time.
CONTACT_GRACE_DAYS = 1


def _outcomes(enrolment_ids: set[int], measured: dict, catalogue) -> list[Outcome]:
    """Mean before and after, and the share with a meaningful improvement, per questionnaire."""
    pairs: dict[str, list[tuple[float, float]]] = {}
    for (enrolment_id, form_id), scores in measured.items():
        if enrolment_id in enrolment_ids and "before" in scores and "after" in scores:
            pairs.setdefault(form_id, []).append((scores["before"], scores["after"]))
    outcomes = []
    for form_id, values in sorted(pairs.items()):
        form = catalogue.forms.get(form_id)
        improved = [is_improvement(form, before, after) for before, after in values] if form else []
        known = [i for i in improved if i is not None]
        outcomes.append(Outcome(
            form_id=form_id, title=form.title("en") if form else form_id, pairs=len(values),
            mean_before=round(statistics.mean(b for b, _a in values), 1),
            mean_after=round(statistics.mean(a for _b, a in values), 1),
            improved_share=round(100 * sum(known) / len(known), 1) if known else None))
    return outcomes


def _share(count: int, group: list) -> float | None:
    """Percentage of the group, one decimal; None for an empty group."""
    return round(100 * count / len(group), 1) if group else None


# --- what the follow-up shows: small cells suppressed, numbers in the reader's locale ---

# A figure about fewer patients than this is not shown: with so few, a colleague
# could tell who is behind it ("the one patient in Norra who stopped").
MIN_CELL = 5
SUPPRESSED = "< 5"


@dataclass(frozen=True)
class Cell:
    """One figure of the follow-up: ``text`` for the page (the reader's locale), ``csv`` for the file."""
    text: str
    csv: str
    suppressed: bool = False


EMPTY = Cell("–", "")
HIDDEN = Cell(SUPPRESSED, SUPPRESSED, suppressed=True)


def count_cell(n: int) -> Cell:
    """A number of patients: 1 to 4 is suppressed (0 is not: it says nothing about anyone)."""
    if 0 < n < MIN_CELL:
        return HIDDEN
    return Cell(format_decimal(n), str(n))


def _percent_format() -> str:
    """The locale's percent pattern with one decimal (sv "#,##0,0 %", en "#,##0.0%")."""
    pattern = get_locale().percent_formats[None].pattern
    return pattern.replace("#,##0", "#,##0.0", 1)


def share_cell(share: float | None, patients: int) -> Cell:
    """A percentage of ``patients``; suppressed when they are fewer than five."""
    if share is None or patients == 0:
        return EMPTY
    if patients < MIN_CELL:
        return HIDDEN
    return Cell(format_percent(share / 100, format=_percent_format()), f"{share:.1f}")


def decimal_cell(value: float | None, patients: int) -> Cell:
    """A mean or median over ``patients``, one decimal; suppressed when they are fewer than five."""
    if value is None or patients == 0:
        return EMPTY
    if patients < MIN_CELL:
        return HIDDEN
    return Cell(format_decimal(value, format="#,##0.0"), f"{value:.1f}")


@dataclass(frozen=True)
class FollowUpCells:
    """A follow-up row as it may be shown: every figure as a (possibly suppressed) cell."""
    row: FollowUp
    total: Cell
    active: Cell
    with_clinician: Cell
    schedule_set: Cell
    inactive: Cell
    plan_agreed: Cell
    contacts_on_time: Cell
    median_days: Cell
    funnel: list[tuple[str, Cell]]
    outcomes: list[tuple[Outcome, Cell, Cell, Cell, Cell]]  # pairs, mean before, mean after, improved

    @property
    def any_suppressed(self) -> bool:
        cells = [self.total, self.active, self.with_clinician, self.schedule_set, self.inactive, self.plan_agreed,
                 self.contacts_on_time, self.median_days, *(c for _t, c in self.funnel),
                 *(c for o in self.outcomes for c in o[1:])]
        return any(c.suppressed for c in cells)


def follow_up_cells(row: FollowUp) -> FollowUpCells:
    """Suppress every figure about fewer than five patients; format the rest for the reader.

    In a group of fewer than five even a 0 is hidden: "none of them finished"
    says something about each one of them.
    """
    n = row.open_count
    if row.total < MIN_CELL:
        return FollowUpCells(
            row=row, total=HIDDEN, active=HIDDEN, with_clinician=HIDDEN, schedule_set=HIDDEN, inactive=HIDDEN,
            plan_agreed=HIDDEN, contacts_on_time=HIDDEN, median_days=HIDDEN,
            funnel=[(title, HIDDEN) for title, _done in row.funnel],
            outcomes=[(o, HIDDEN, HIDDEN, HIDDEN, HIDDEN) for o in row.outcomes])
    return FollowUpCells(
        row=row, total=count_cell(row.total), active=count_cell(row.active),
        with_clinician=share_cell(row.with_clinician_share, n), schedule_set=share_cell(row.schedule_set_share, n),
        inactive=share_cell(row.inactive_share, n), plan_agreed=share_cell(row.plan_agreed_share, n),
        contacts_on_time=share_cell(row.contacts_on_time_share, row.contacts_due_count),
        median_days=decimal_cell(row.median_days_per_module, row.median_patients),
        funnel=[(title, count_cell(done)) for title, done in row.funnel],
        outcomes=[(o, count_cell(o.pairs), decimal_cell(o.mean_before, o.pairs), decimal_cell(o.mean_after, o.pairs),
                   share_cell(o.improved_share, o.pairs)) for o in row.outcomes],
    )


def follow_up_csv(rows: list[FollowUp], catalogue) -> str:
    """The follow-up as CSV: the same suppressed cells as the page, numbers with a decimal point."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["care_unit", "programme", "enrolments", "active", "share_with_responsible_clinician_pct",
                     "share_schedule_set_within_30_days_pct", "share_inactive_over_14_days_pct",
                     "median_days_per_module", "share_plan_agreed_within_30_days_pct",
                     "share_contacts_on_time_pct", "module", "patients_completed_module",
                     "questionnaire", "before_after_pairs", "mean_before", "mean_after", "meaningfully_improved_pct"])
    for row in rows:
        c = follow_up_cells(row)
        common = [_csv_safe(row.unit.name), catalogue.title(row.programme_id, "en"), c.total.csv, c.active.csv,
                  c.with_clinician.csv, c.schedule_set.csv, c.inactive.csv, c.median_days.csv, c.plan_agreed.csv,
                  c.contacts_on_time.csv]
        for title, completed in c.funnel or [("", EMPTY)]:
            writer.writerow([*common, title, completed.csv, "", "", "", "", ""])
        for outcome, pairs, before, after, improved in c.outcomes:
            writer.writerow([*common, "", "", outcome.form_id, pairs.csv, before.csv, after.csv, improved.csv])
    return out.getvalue()
