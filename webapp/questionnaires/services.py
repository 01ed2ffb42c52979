"""Questionnaire definitions (content/forms/*.yaml) and how answers are scored.

A definition is data: items of a few known types, a scoring rule (sum or mean,
reverse-scored items, subscales, how many answers may be missing), severity
bands, the change that counts as meaningful, and safety rules that alert the
clinician. Like programme content it is read and checked once, without an app,
and every problem names its file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import User
from webapp.config import PROJECT_ROOT
from webapp.content.parser import Problem
from webapp.core.db import utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.services import Kind, notify
from webapp.programme.models import Enrolment, EnrolmentStatus
from webapp.questionnaires.models import Dispatch, Response, Round

ITEM_ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
ITEM_TYPES = {"single_choice", "scale", "vas", "number", "text", "info"}
SCORED_TYPES = {"single_choice", "scale", "vas", "number"}
LICENCES = {"free", "licence-required"}
METHODS = {"sum", "mean"}


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping, so problems can point at it."""
    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


@dataclass(frozen=True)
class Option:
    value: int
    labels: dict


@dataclass(frozen=True)
class Item:
    id: str
    type: str
    texts: dict
    required: bool
    options: tuple[Option, ...] = ()
    min: int | None = None
    max: int | None = None
    reverse: bool = False
    min_labels: dict = field(default_factory=dict)
    max_labels: dict = field(default_factory=dict)
    line: int = 1

    def text(self, locale: str) -> str:
        return self.texts.get(locale) or next(iter(self.texts.values()), "")

    @property
    def low(self) -> int:
        return min(o.value for o in self.options) if self.options else (self.min or 0)

    @property
    def high(self) -> int:
        return max(o.value for o in self.options) if self.options else (self.max or 0)


@dataclass(frozen=True)
class Band:
    min: float
    max: float
    labels: dict


@dataclass(frozen=True)
class Scale:
    """What is scored: the whole form or one subscale."""
    items: tuple[str, ...]
    method: str
    bands: tuple[Band, ...]
    range: tuple[float, float] | None


@dataclass(frozen=True)
class SafetyRule:
    item: str
    min: int


@dataclass
class Form:
    id: str
    licence: str
    titles: dict
    recalls: dict
    items: list[Item]
    total: Scale | None
    subscales: dict[str, Scale]
    max_missing: int
    meaningful_change: float | None
    safety: list[SafetyRule]
    path: str
    # Which way is improvement ("lower" scores, as in PHQ-9, or "higher").
    better: str = "lower"
    # The patient sees their own scores over time after answering.
    show_results: bool = False

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    def title(self, locale: str) -> str:
        return self.titles.get(locale) or next(iter(self.titles.values()), self.id)

    @property
    def has_text(self) -> bool:
        """A licence-required skeleton has no item texts until a unit adds them."""
        return all(i.texts for i in self.items if i.type != "info")


@dataclass(frozen=True)
class Score:
    total: float | None
    band: Band | None
    subscales: dict
    missing: tuple[str, ...]
    safety_hits: tuple[str, ...]

    @property
    def is_complete(self) -> bool:
        return self.total is not None or bool(self.subscales)


def load_forms(root: Path) -> tuple[dict[str, Form], list[Problem]]:
    """Read every content/forms/*.yaml; broken definitions are reported and left out."""
    forms: dict[str, Form] = {}
    problems: list[Problem] = []
    for path in sorted(root.glob("*.yaml")) if root.exists() else []:
        rel = _rel(path)
        try:
            # Bandit B506: the loader is a SafeLoader subclass.
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # nosec B506
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(Problem(rel, (mark.line + 1) if mark else 1, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                                    "write each setting as 'name: value' and indent lists consistently"))
            continue
        before = len(problems)
        form = _build_form(data, path, rel, problems)
        if form is not None and len(problems) == before:
            forms[form.id] = form
    return forms, problems


def _rel(path: Path) -> str:

    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _texts(value) -> dict:
    if not isinstance(value, dict):
        return {}
    return {k: str(v) for k, v in value.items() if k != "__line__"}


def _build_form(data, path: Path, rel: str, problems: list[Problem]) -> Form | None:
    def problem(line, message, fix=""):
        problems.append(Problem(rel, line, message, fix))

    if not isinstance(data, dict):
        problem(1, "the file must be 'name: value' settings")
        return None
    if data.get("id") != path.stem:
        problem(data.get("__line__", 1), f"id {data.get('id')!r} must be the file name {path.stem!r}", f"write 'id: {path.stem}'")
        return None
    licence = data.get("licence")
    if licence not in LICENCES:
        problem(data["__line__"], f"licence {licence!r} is unknown", "write 'licence: free' or 'licence: licence-required'")
    option_sets = {name: opts for name, opts in (data.get("option_sets") or {}).items() if name != "__line__"}
    items: list[Item] = []
    seen: set[str] = set()
    for raw in data.get("items") or []:
        line = raw.get("__line__", 1) if isinstance(raw, dict) else 1
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not ITEM_ID_RE.match(raw["id"]):
            problem(line, "every item needs an id of lower-case letters and digits", "e.g. 'id: q1'")
            continue
        item_id = raw["id"]
        if item_id in seen:
            problem(line, f"the item id {item_id!r} is used twice", "give every item its own id")
        seen.add(item_id)
        kind = raw.get("type")
        if kind not in ITEM_TYPES:
            problem(line, f"item {item_id!r} has the unknown type {kind!r}", "use one of: " + ", ".join(sorted(ITEM_TYPES)))
            continue
        options: list[Option] = []
        raw_options = raw.get("options")
        if isinstance(raw_options, str):
            if raw_options not in option_sets:
                problem(line, f"item {item_id!r} uses the option set {raw_options!r}, which is not defined",
                        "define it under option_sets")
                continue
            raw_options = option_sets[raw_options]
        for opt in raw_options or []:
            if not isinstance(opt, dict) or not isinstance(opt.get("value"), int):
                problem(line, f"an option of item {item_id!r} has no whole-number value", "write {value: 0, label: {...}}")
                continue
            options.append(Option(opt["value"], _texts(opt.get("label"))))
        low, high = raw.get("min"), raw.get("max")
        if kind == "single_choice" and not options and not (isinstance(low, int) and isinstance(high, int)):
            problem(line, f"item {item_id!r} has no options", "list options, name an option set, or give min and max")
            continue
        if kind in ("scale", "vas") and not (isinstance(low, int) and isinstance(high, int) and low < high):
            problem(line, f"item {item_id!r} needs whole-number min and max, min below max", "e.g. 'min: 0, max: 10'")
            continue
        if licence == "free" and kind != "info" and not _texts(raw.get("text")):
            problem(line, f"item {item_id!r} has no text", "add text: {sv: …, en: …}")
        items.append(Item(
            id=item_id, type=kind, texts=_texts(raw.get("text")), required=bool(raw.get("required", False)),
            options=tuple(options), min=low, max=high, reverse=bool(raw.get("reverse", False)),
            min_labels=_texts(raw.get("min_label")), max_labels=_texts(raw.get("max_label")), line=line,
        ))
    by_id = {i.id: i for i in items}
    for item in items:
        if item.reverse and item.type not in SCORED_TYPES:
            problem(item.line, f"item {item.id!r} is reverse-scored but has no scale", "remove 'reverse' or give it a scale")
        if item.reverse and item.options and sorted(o.value for o in item.options) != list(range(item.low, item.high + 1)):
            problem(item.line, f"reverse-scored item {item.id!r} needs options with every value from {item.low} to {item.high}",
                    "reverse scoring maps v to min + max - v, so every value must exist")

    scoring = data.get("scoring") or {}
    scoring_line = scoring.get("__line__", data["__line__"]) if isinstance(scoring, dict) else data["__line__"]
    method = scoring.get("method", "sum")
    if method not in METHODS:
        problem(scoring_line, f"scoring method {method!r} is unknown", "write 'method: sum' or 'method: mean'")
    total = _scale(scoring, method, by_id, scoring_line, problem) if scoring.get("items") else None
    subscales = {}
    for name, spec in (scoring.get("subscales") or {}).items():
        if name == "__line__":
            continue
        scale = _scale(spec, spec.get("method", method), by_id, spec.get("__line__", scoring_line), problem)
        if scale is not None:
            subscales[name] = scale
    missing = scoring.get("missing") or {}
    max_missing = missing.get("max_missing", 0) if isinstance(missing, dict) else 0
    if not isinstance(max_missing, int) or max_missing < 0:
        problem(scoring_line, "max_missing must be a whole number, 0 or more", "e.g. 'missing: {max_missing: 1}'")
        max_missing = 0
    better = scoring.get("better", "lower")
    if better not in ("lower", "higher"):
        problem(scoring_line, f"better must be 'lower' or 'higher', not {better!r}", "write e.g. 'better: lower'")
        better = "lower"
    safety = []
    for rule in data.get("safety") or []:
        line = rule.get("__line__", 1) if isinstance(rule, dict) else 1
        if not isinstance(rule, dict) or rule.get("item") not in by_id:
            problem(line, f"the safety rule names the unknown item {rule.get('item') if isinstance(rule, dict) else rule!r}",
                    "use the id of an item in this questionnaire")
            continue
        if not isinstance(rule.get("min"), int):
            problem(line, "a safety rule needs 'min': the lowest answer that alerts", "e.g. {item: q9, min: 1}")
            continue
        safety.append(SafetyRule(rule["item"], rule["min"]))
    return Form(
        id=data["id"], licence=licence or "free", titles=_texts(data.get("title")), recalls=_texts(data.get("recall")),
        items=items, total=total, subscales=subscales, max_missing=max_missing,
        meaningful_change=scoring.get("meaningful_change"), safety=safety, path=rel, better=better,
        show_results=bool(data.get("show_results", False)),
    )


def _scale(spec: dict, method: str, by_id: dict, line: int, problem) -> Scale | None:
    names = [n for n in spec.get("items") or []]
    unknown = [n for n in names if n not in by_id]
    if unknown:
        problem(line, f"scoring names unknown items: {', '.join(map(str, unknown))}", "use the ids of items in this questionnaire")
        return None
    unscored = [n for n in names if by_id[n].type not in SCORED_TYPES]
    if unscored:
        problem(line, f"these items cannot be scored: {', '.join(unscored)}", "score only choice, scale, vas and number items")
        return None
    bands = []
    for raw in spec.get("bands") or []:
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), (int, float)) for k in ("min", "max")):
            problem(raw.get("__line__", line) if isinstance(raw, dict) else line, "a band needs numbers min and max",
                    "e.g. {min: 0, max: 4, label: {...}}")
            return None
        bands.append(Band(raw["min"], raw["max"], _texts(raw.get("label"))))
    bands.sort(key=lambda b: b.min)
    # Bands must cover the range without gaps or overlaps (whole-number sums).
    for earlier, later in zip(bands, bands[1:]):
        step = 1 if method == "sum" else 0
        if later.min <= earlier.max:
            problem(line, f"bands overlap: {earlier.min}–{earlier.max} and {later.min}–{later.max}",
                    "make each band start where the one before ends")
            return None
        if step and later.min != earlier.max + step:
            problem(line, f"there is a gap between the bands {earlier.min}–{earlier.max} and {later.min}–{later.max}",
                    "make each band start right after the one before")
            return None
    score_range = spec.get("range")
    if bands and score_range and (bands[0].min != score_range[0] or bands[-1].max != score_range[1]):
        problem(line, f"the bands cover {bands[0].min}–{bands[-1].max} but the range is {score_range[0]}–{score_range[1]}",
                "make the bands start at the lowest and end at the highest possible score")
        return None
    return Scale(items=tuple(names), method=method, bands=tuple(bands),
                 range=tuple(score_range) if score_range else None)


def item_value(item: Item, raw) -> int | None:
    """The scored value of one answer (reverse-scored items turned round), or None."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    if value < item.low or value > item.high:
        return None
    return item.low + item.high - value if item.reverse else value


def _score_scale(form: Form, scale: Scale, answers: dict) -> tuple[float | None, Band | None, list[str]]:
    values, missing = [], []
    for name in scale.items:
        value = item_value(form.item(name), answers.get(name))
        if value is None:
            missing.append(name)
        else:
            values.append(value)
    if len(missing) > form.max_missing or not values:
        return None, None, missing
    if scale.method == "mean":
        total = round(sum(values) / len(values), 2)
    else:
        # Missing answers within the allowance are filled with the mean of the
        # answered items (prorating), the common rule for short scales.
        total = sum(values)
        if missing:
            total = round(total + total / len(values) * len(missing))
    band = next((b for b in scale.bands if b.min <= total <= b.max), None)
    return total, band, missing


def score(form: Form, answers: dict) -> Score:
    """Score answers ({item id: value}); totals are None when too much is missing."""
    total, band, missing = (None, None, [])
    if form.total is not None:
        total, band, missing = _score_scale(form, form.total, answers)
    subscales = {}
    for name, scale in form.subscales.items():
        sub_total, sub_band, sub_missing = _score_scale(form, scale, answers)
        subscales[name] = (sub_total, sub_band)
        missing += [m for m in sub_missing if m not in missing]
    hits = tuple(rule.item for rule in form.safety
                 if item_value(form.item(rule.item), answers.get(rule.item)) is not None
                 and _raw_int(answers.get(rule.item)) >= rule.min)
    return Score(total=total, band=band, subscales=subscales, missing=tuple(missing), safety_hits=hits)


def _raw_int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def is_improvement(form: Form, before: float | None, after: float | None) -> bool | None:
    """A meaningful change in the better direction; None when it cannot be told."""
    meaningful = is_meaningful_change(form, before, after)
    if meaningful is None:
        return None
    return meaningful and ((after < before) if form.better == "lower" else (after > before))


def is_meaningful_change(form: Form, before: float | None, after: float | None) -> bool | None:
    """Whether the change between two totals reaches the form's threshold."""
    if before is None or after is None or form.meaningful_change is None:
        return None
    return abs(after - before) >= form.meaningful_change


# --- sending, answering, following up ------------------------------------------------------

REMINDER_EVERY_DAYS = 3
MAX_REMINDERS = 3


class AnswerProblems(Exception):
    """The submitted answers have problems: {item id: code}."""
    def __init__(self, problems: dict[str, str]):
        super().__init__("answers")
        self.problems = problems


def send(enrolment, form: Form, sender, due_at=None, purpose: str = "manual", send_at=None, round_=None):
    """Send a questionnaire to a patient; they are told (content-free) when it becomes visible.

    With ``send_at`` in the future the patient neither sees it nor hears of it
    until then; :func:`release_scheduled` tells them on the day.
    """
    if not form.has_text:
        raise ValueError("a licence-required questionnaire without its texts cannot be sent")
    now = utcnow()
    send_at = send_at or now
    dispatch = Dispatch(enrolment_id=enrolment.id, form_id=form.id, sent_by_id=sender.id if sender else None,
                        created_at=now, send_at=send_at, due_at=due_at, draft="{}", reminders_sent=0,
                        purpose=purpose, round=round_)
    db.session.add(dispatch)
    if send_at <= now:
        dispatch.notified_at = now
        notify(enrolment.patient, Kind.QUESTIONNAIRE_WAITING, {"url": external_url("auth.login")})
    return dispatch


def recipients(unit_id: int, programme_id: str | None = None, enrolment_ids: list[int] | None = None) -> list:
    """Active enrolments in one care unit: all of a programme, or the chosen ones."""
    query = (select(Enrolment).options(joinedload(Enrolment.patient))
             .where(Enrolment.care_unit_id == unit_id,
                    Enrolment.status.in_([EnrolmentStatus.ACTIVE.value, EnrolmentStatus.MAINTENANCE.value]))
             .order_by(Enrolment.id))
    if programme_id is not None:
        query = query.where(Enrolment.programme_id == programme_id)
    if enrolment_ids is not None:
        query = query.where(Enrolment.id.in_(enrolment_ids))
    return list(db.session.scalars(query))


def send_round(form: Form, unit_id: int, sender, enrolments: list, programme_id: str | None = None,
               send_at=None, due_at=None) -> Round:
    """Send one questionnaire to a list of patients, grouped so it can be followed as one."""
    round_ = Round(form_id=form.id, care_unit_id=unit_id, programme_id=programme_id, sent_by_id=sender.id,
                   created_at=utcnow(), send_at=send_at or utcnow(), due_at=due_at)
    db.session.add(round_)
    for enrolment in enrolments:
        send(enrolment, form, sender, due_at=due_at, send_at=send_at, round_=round_)
    return round_


# Scheduler sweeps commit every BATCH_SIZE rows: a round sent to thousands of
# patients must not keep their questionnaires locked (and, on SQLite, the whole
# database) for the length of the sweep while those patients answer.
BATCH_SIZE = 500


def _in_batches(query, handle) -> int:
    """Run ``query`` (which must stop matching handled rows) batch by batch, committing each; count rows."""
    done = 0
    while True:
        rows = db.session.execute(query.limit(BATCH_SIZE)).unique().all()
        for row in rows:
            handle(*row)
        db.session.commit()
        done += len(rows)
        if len(rows) < BATCH_SIZE:
            return done


def release_scheduled(now=None) -> int:
    """Tell patients about questionnaires whose send date has come (each exactly once)."""
    now = now or utcnow()

    def release(dispatch, enrolment):
        dispatch.notified_at = now
        notify(enrolment.patient, Kind.QUESTIONNAIRE_WAITING, {"url": external_url("auth.login")})

    return _in_batches(
        select(Dispatch, Enrolment).join(Enrolment, Enrolment.id == Dispatch.enrolment_id)
        .options(joinedload(Enrolment.patient))
        .where(Dispatch.notified_at.is_(None), Dispatch.send_at <= now, Dispatch.answered_at.is_(None),
               Enrolment.status != EnrolmentStatus.CLOSED.value)
        .order_by(Dispatch.id).with_for_update(of=Dispatch, skip_locked=True), release)


@dataclass(frozen=True)
class RoundStatus:
    round: Round
    recipients: int
    answered: int
    overdue: int

    @property
    def waiting(self) -> int:
        return self.recipients - self.answered - self.overdue


def rounds_overview(unit_ids_query, now=None, limit: int = 50) -> list[RoundStatus]:
    """The latest rounds in the given units with answered / waiting / overdue counts (two queries)."""
    now = now or utcnow()
    rounds = list(db.session.scalars(select(Round).options(joinedload(Round.sent_by))
                                     .where(Round.care_unit_id.in_(unit_ids_query))
                                     .order_by(Round.created_at.desc(), Round.id.desc()).limit(limit)))
    if not rounds:
        return []
    answered = Dispatch.answered_at.is_not(None)
    overdue = and_(Dispatch.answered_at.is_(None), Dispatch.due_at.is_not(None), Dispatch.due_at < now)
    counts = {row.round_id: row for row in db.session.execute(
        select(Dispatch.round_id, func.count().label("n"),
               func.sum(case((answered, 1), else_=0)).label("answered"),
               func.sum(case((overdue, 1), else_=0)).label("overdue"))
        .where(Dispatch.round_id.in_([r.id for r in rounds])).group_by(Dispatch.round_id))}
    return [RoundStatus(r, counts[r.id].n if r.id in counts else 0,
                        int(counts[r.id].answered or 0) if r.id in counts else 0,
                        int(counts[r.id].overdue or 0) if r.id in counts else 0) for r in rounds]


def round_members(round_: Round) -> list:
    """Each recipient of a round: (dispatch, enrolment, patient), by name."""
    return [tuple(row) for row in db.session.execute(
        select(Dispatch, Enrolment, User).join(Enrolment, Enrolment.id == Dispatch.enrolment_id)
        .join(User, User.id == Enrolment.patient_id).options(joinedload(Dispatch.response))
        .where(Dispatch.round_id == round_.id).order_by(User.full_name, Dispatch.id))]


def clean_answers(form: Form, raw: dict[str, str], final: bool) -> dict:
    """Keep the answers that fit their item; on ``final`` every required item must be there."""
    answers, problems = {}, {}
    for item in form.items:
        if item.type == "info":
            continue
        value = (raw.get(item.id) or "").strip()
        if item.type == "text":
            if len(value) > 2000:
                problems[item.id] = "too_long"
            elif value:
                answers[item.id] = value
        elif value:
            if item_value(item, value) is None:
                problems[item.id] = "invalid"
            else:
                answers[item.id] = int(value)
        if final and item.required and item.id not in answers and item.id not in problems:
            problems[item.id] = "required"
    if problems:
        raise AnswerProblems(problems)
    return answers


def submit(dispatch, enrolment, form: Form, answers: dict):
    """Score and store the answers; a safety hit flags the enrolment and tells the clinician."""
    result = score(form, answers)
    response = Response(
        dispatch_id=dispatch.id, enrolment_id=enrolment.id, form_id=form.id, answers=json.dumps(answers),
        total=result.total, band=_band_key(result.band),
        subscales=json.dumps({k: v[0] for k, v in result.subscales.items()}), safety_hit=bool(result.safety_hits),
        submitted_at=utcnow(),
    )
    db.session.add(response)
    dispatch.answered_at = response.submitted_at
    dispatch.draft = "{}"
    if result.safety_hits:
        enrolment.safety_flag_at = response.submitted_at
        if enrolment.responsible_clinician is not None:
            notify(enrolment.responsible_clinician, Kind.SAFETY_FLAG,
                   {"url": external_url("clinician.enrolment", enrolment_id=enrolment.id)})
    return response, result


def _band_key(band: Band | None) -> str | None:
    """A band is stored by its English label (stable), shown translated from the form."""
    if band is None:
        return None
    return band.labels.get("en") or next(iter(band.labels.values()), f"{band.min}-{band.max}")


def waiting(enrolment_ids: list[int]) -> dict[int, list]:
    """Unanswered dispatches per enrolment, oldest first."""
    result: dict[int, list] = {}
    if not enrolment_ids:
        return result
    for dispatch in db.session.scalars(select(Dispatch).where(
            Dispatch.enrolment_id.in_(enrolment_ids), Dispatch.answered_at.is_(None), Dispatch.send_at <= utcnow())
            .order_by(Dispatch.send_at, Dispatch.id)):
        result.setdefault(dispatch.enrolment_id, []).append(dispatch)
    return result


def history(enrolment) -> list:
    """Every dispatch of the enrolment with its response, newest first."""
    return list(db.session.scalars(select(Dispatch).options(joinedload(Dispatch.response), joinedload(Dispatch.sent_by))
                                   .where(Dispatch.enrolment_id == enrolment.id)
                                   .order_by(Dispatch.created_at.desc())).unique())


def remind_unanswered(now=None) -> int:
    """Remind patients of unanswered questionnaires every few days, a few times at most.

    Answered questionnaires and closed enrolments are never reminded about.
    """
    now = now or utcnow()
    every = timedelta(days=REMINDER_EVERY_DAYS)
    return _in_batches(
        select(Dispatch, Enrolment).join(Enrolment, Enrolment.id == Dispatch.enrolment_id)
        .options(joinedload(Enrolment.patient))
        .where(Dispatch.answered_at.is_(None), Dispatch.reminders_sent < MAX_REMINDERS,
               Dispatch.notified_at.is_not(None),
               Enrolment.status.in_([EnrolmentStatus.ACTIVE.value, EnrolmentStatus.MAINTENANCE.value]),
               Dispatch.send_at <= now - every,
               or_(Dispatch.last_reminded_at.is_(None), Dispatch.last_reminded_at <= now - every))
        .order_by(Dispatch.id).with_for_update(of=Dispatch, skip_locked=True),
        lambda dispatch, enrolment: remind(dispatch, enrolment, now))


def remind(dispatch, enrolment, now=None) -> None:
    """Tell the patient (content-free) that a questionnaire still waits, and count it."""
    dispatch.reminders_sent += 1
    dispatch.last_reminded_at = now or utcnow()
    notify(enrolment.patient, Kind.QUESTIONNAIRE_REMINDER, {"url": external_url("auth.login")})


def export_rows(unit_ids_query, form_id: str | None, start=None, end=None) -> list:
    """Responses with scores in the given care units (newest first) for CSV export."""
    query = (select(Response, Enrolment, User).join(Enrolment, Enrolment.id == Response.enrolment_id)
             .join(User, User.id == Enrolment.patient_id)
             .where(Enrolment.care_unit_id.in_(unit_ids_query)).order_by(Response.submitted_at.desc()))
    if form_id:
        query = query.where(Response.form_id == form_id)
    if start:
        query = query.where(Response.submitted_at >= start)
    if end:
        query = query.where(Response.submitted_at < end)
    return [tuple(row) for row in db.session.execute(query)]


def export_csv(rows) -> str:

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["submitted_utc", "form", "personal_number", "enrolment_id", "programme", "total", "band",
                     "subscales", "safety_hit", "answers"])
    for response, enrolment, patient in rows:
        writer.writerow([response.submitted_at.isoformat(), response.form_id, patient.personal_number or "",
                         enrolment.id, enrolment.programme_id, "" if response.total is None else f"{response.total:g}",
                         response.band or "", response.subscales, int(response.safety_hit), response.answers])
    return out.getvalue()


def own_results(enrolment, form_id: str) -> list:
    """The patient's answered responses to one questionnaire in this enrolment, oldest first."""
    return list(db.session.scalars(select(Response).where(
        Response.enrolment_id == enrolment.id, Response.form_id == form_id).order_by(Response.submitted_at)))


# A day-N measure still goes out this many days late (scheduler down, measure added
# to the programme later); older enrolments are not measured after the fact.
DAY_MEASURE_GRACE_DAYS = 30


def send_day_measures(now=None) -> int:
    """Send the programmes' "N days after the start" measures that have fallen due (once each)."""
    from webapp.content.services import get_catalogue

    now = now or utcnow()
    catalogue = get_catalogue()
    sent = 0
    for programme in catalogue.programmes.values():
        for form_id, at in programme.measures:
            form = catalogue.forms.get(form_id)
            if not isinstance(at, int) or form is None or not form.has_text:
                continue
            purpose = f"day-{at}"
            already = exists().where(Dispatch.enrolment_id == Enrolment.id, Dispatch.form_id == form_id,
                                     Dispatch.purpose == purpose)
            due = db.session.scalars(
                select(Enrolment).options(joinedload(Enrolment.patient))
                .where(Enrolment.programme_id == programme.id,
                       Enrolment.status.in_([EnrolmentStatus.ACTIVE.value, EnrolmentStatus.MAINTENANCE.value]),
                       Enrolment.started_at <= now - timedelta(days=at),
                       Enrolment.started_at > now - timedelta(days=at + DAY_MEASURE_GRACE_DAYS), ~already)
                .with_for_update(of=Enrolment, skip_locked=True)).unique().all()
            for enrolment in due:
                send(enrolment, form, None, purpose=purpose)
                sent += 1
    return sent


def send_programme_measures(enrolment, moment: str) -> int:
    """Send the programme's automatic measures for ``moment`` ("start" or "end"), once each."""
    from webapp.content.services import get_catalogue

    catalogue = get_catalogue()
    programme = catalogue.programmes.get(enrolment.programme_id)
    purpose = "before" if moment == "start" else "after"
    sent = 0
    for form_id, at in programme.measures if programme else []:
        form = catalogue.forms.get(form_id)
        if at != moment or form is None or not form.has_text:
            continue
        already = db.session.scalar(select(Dispatch.id).where(
            Dispatch.enrolment_id == enrolment.id, Dispatch.form_id == form_id, Dispatch.purpose == purpose))
        if already is None:
            send(enrolment, form, None, purpose=purpose)
            sent += 1
    return sent
