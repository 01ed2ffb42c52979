"""Diaries: what the patient registers day by day in a ``::: diary`` block, and how it is shown.

A registration is an answer: one row per diary and day (registering the same day
again changes it and keeps the earlier state as a version), exported with the
patient's data and purged with the enrolment. The chart is drawn here as
geometry (numbers only) so the template can write the SVG without JavaScript,
and the same chart serves the patient's page, the printed summary and the
clinician's enrolment page.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import format_decimal
from sqlalchemy import select

from webapp.content.parser import DiaryField, Segment
from webapp.content.services import Module, Programme
from webapp.core.dates import local_today
from webapp.core.db import utcnow
from webapp.extensions import db
from webapp.programme.models import DiaryEntry, DiaryEntryVersion, Enrolment

# A registration may be for a day up to this long ago (a diary kept on paper
# while away, typed in later); older dates are almost always typing mistakes.
OLDEST_DAYS = 366
# The module page shows the latest weeks; the diary page shows everything.
RECENT_DAYS = 28


class DiaryError(Exception):
    """A registration that cannot be saved: ``errors`` maps a form field to a message code."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


# --- finding diaries -----------------------------------------------------------


def diary_block(programme: Programme, block_id: str, lang: str) -> tuple[Module, Segment] | None:
    """(module, diary segment in the reader's language) of a diary in the programme, or None."""
    for module in programme.published_modules:
        if block_id in module.diary_ids():
            version, _fallback = module.version(lang)
            for page in version.pages:
                for segment in page.segments:
                    if segment.kind == "diary" and segment.id == block_id:
                        return module, segment
    return None


def diary_blocks(programme: Programme, lang: str) -> list[tuple[Module, object, Segment]]:
    """Every diary of the programme as (module, shown version, segment), in reading order."""
    found = []
    for module in programme.published_modules:
        if not module.diary_ids():
            continue
        version, _fallback = module.version(lang)
        for page in version.pages:
            found.extend((module, version, s) for s in page.segments if s.kind == "diary")
    return found


# --- validating and saving -------------------------------------------------------


def _number(text: str) -> float | None:
    """A number as a person types it: digits, one decimal point or comma, an optional minus."""
    value = (text or "").strip().replace(",", ".").replace("\u2212", "-")
    if not value or len(value) > 12:
        return None
    body = value[1:] if value.startswith("-") else value
    whole, _dot, fraction = body.partition(".")
    if not (whole or fraction) or not (whole.isascii() and (whole.isdigit() or whole == "")) \
            or not (fraction.isascii() and (fraction.isdigit() or fraction == "")):
        return None
    return float(value)


def clean_day(text: str | None, today: date | None = None) -> date:
    """The day a registration is for: today when empty; DiaryError for a future or absurdly old day."""
    today = today or local_today()
    if not (text or "").strip():
        return today
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise DiaryError({"day": "bad_day"}) from None
    if day > today:
        raise DiaryError({"day": "future_day"})
    if day < today - timedelta(days=OLDEST_DAYS):
        raise DiaryError({"day": "old_day"})
    return day


def clean_values(fields: tuple[DiaryField, ...], form) -> dict[str, float]:
    """The values the form sent, each within its field's range and step; DiaryError names every bad one.

    ``form`` maps ``v-<field id>`` to what was typed. Empty fields are left out,
    but at least one value must be given.
    """
    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    for item in fields:
        raw = (form.get(f"v-{item.id}") or "").strip()
        if not raw:
            continue
        if item.kind == "yesno":
            if raw not in ("1", "0"):
                errors[item.id] = "bad_choice"
            else:
                values[item.id] = float(raw)
            continue
        number = _number(raw)
        if number is None:
            errors[item.id] = "not_number"
        elif not item.min <= number <= item.max:
            errors[item.id] = "out_of_range"
        elif not math.isclose((number - item.min) / item.step, round((number - item.min) / item.step), abs_tol=1e-6):
            errors[item.id] = "bad_step"
        else:
            values[item.id] = number
    if errors:
        raise DiaryError(errors)
    if not values:
        raise DiaryError({"_form": "empty"})
    return values


def _as_json(values: dict[str, float]) -> str:
    # Whole numbers as whole numbers: the export reads 30, not 30.0.
    return json.dumps({k: int(v) if float(v).is_integer() else v for k, v in sorted(values.items())})


def save_entry(enrolment: Enrolment, module: Module, block_id: str, day: date, values: dict[str, float]) -> DiaryEntry:
    """Save the day's registration, keeping every earlier state as a version."""
    entry = db.session.scalar(select(DiaryEntry).where(
        DiaryEntry.enrolment_id == enrolment.id, DiaryEntry.block_id == block_id, DiaryEntry.day == day)
        .with_for_update())
    now = utcnow()
    stored = _as_json(values)
    if entry is None:
        entry = DiaryEntry(enrolment_id=enrolment.id, module_id=module.id, block_id=block_id, day=day,
                           values="{}", version=0, created_at=now, updated_at=now)
        db.session.add(entry)
        db.session.flush()
    elif entry.values == stored:
        return entry  # the same values again (a double press): no new version
    entry.values = stored
    entry.version += 1
    entry.updated_at = now
    db.session.add(DiaryEntryVersion(entry_id=entry.id, version=entry.version, values=stored, saved_at=now))
    return entry


def entries_for(enrolment: Enrolment, block_ids: list[str] | None = None) -> dict[str, list[DiaryEntry]]:
    """The enrolment's registrations by diary id, oldest day first: one query."""
    query = select(DiaryEntry).where(DiaryEntry.enrolment_id == enrolment.id)
    if block_ids is not None:
        query = query.where(DiaryEntry.block_id.in_(block_ids))
    result: dict[str, list[DiaryEntry]] = {}
    for entry in db.session.scalars(query.order_by(DiaryEntry.block_id, DiaryEntry.day)):
        result.setdefault(entry.block_id, []).append(entry)
    return result


# --- what is shown: weekly summaries and charts -----------------------------------


@dataclass
class Week:
    """One ISO week of a diary: its first day, how many days were registered, and a figure per value."""

    year: int
    number: int
    monday: date
    days: int
    figures: dict[str, float | None]


@dataclass
class ChartPoint:
    x: float
    y: float
    day: date
    value: float


@dataclass
class Chart:
    """One value's chart: points in a WIDTH × HEIGHT box, axis ticks, and the range it covers."""

    field: DiaryField
    points: list[ChartPoint]
    path: str
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, date]]
    first: date | None
    last: date | None


@dataclass
class DiaryView:
    """A diary as the patient or the clinician sees it: its fields, rows, weeks and charts."""

    module: Module
    segment: Segment
    entries: list[DiaryEntry]
    weeks: list[Week] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    latest: DiaryEntry | None = None
    # The language of the diary's texts (its module version's), for lang="…" on its labels.
    lang: str = ""


WIDTH, HEIGHT = 320, 150
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 26


def weekly(fields: tuple[DiaryField, ...], entries: list[DiaryEntry]) -> list[Week]:
    """One row per ISO week with registrations, newest first: mean or total per value, yes days for yes/no."""
    groups: dict[tuple[int, int], list[DiaryEntry]] = {}
    for entry in entries:
        year, number, _weekday = entry.day.isocalendar()
        groups.setdefault((year, number), []).append(entry)
    weeks = []
    for (year, number), rows in sorted(groups.items(), reverse=True):
        figures: dict[str, float | None] = {}
        for item in fields:
            values = [row.numbers[item.id] for row in rows if item.id in row.numbers]
            if not values:
                figures[item.id] = None
            elif item.kind == "yesno" or item.summary == "total":
                figures[item.id] = sum(values)
            else:
                figures[item.id] = sum(values) / len(values)
        weeks.append(Week(year=year, number=number, monday=date.fromisocalendar(year, number, 1),
                          days=len(rows), figures=figures))
    return weeks


def _ticks(low: float, high: float) -> list[float]:
    """Three to six round values from low to high for the y axis."""
    span = high - low
    raw = span / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + 1e-9:
        ticks.append(round(value, 6))
        value += step
    return ticks


def _round_up(value: float, low: float) -> float:
    """The next round number at or above ``value`` (1, 2, 2.5 or 5 times a power of ten) above ``low``."""
    span = value - low
    if span <= 0:
        return value
    magnitude = 10 ** math.floor(math.log10(span))
    return low + next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= span)


def chart(item: DiaryField, entries: list[DiaryEntry]) -> Chart:
    """The points of one value over its days: x by date, y within the field's range (never stretched by data)."""
    rows = [(e.day, e.numbers[item.id]) for e in entries if item.id in e.numbers]
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    low, high = item.min, item.max
    if item.kind == "number" and rows:
        # A number's range is often far wider than anyone's days (600 minutes, 24 hours): the axis
        # ends at a round value above the largest registered one, so the changes can be seen.
        top = max(value for _day, value in rows)
        high = min(item.max, max(_round_up(top, low), low + item.step))
    if rows:
        first, last = rows[0][0], rows[-1][0]
    else:
        first = last = None
    span = max((last - first).days, 1) if rows else 1

    def x_of(day: date) -> float:
        if len(rows) == 1:
            return LEFT + inner_w / 2
        return round(LEFT + (day - first).days / span * inner_w, 1)

    def y_of(value: float) -> float:
        return round(TOP + inner_h - (value - low) / (high - low) * inner_h, 1)

    points = [ChartPoint(x=x_of(day), y=y_of(value), day=day, value=value) for day, value in rows]
    path = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(points))
    ticks = [0.0, 1.0] if item.kind == "yesno" else _ticks(low, high)
    y_ticks = [(y_of(v), format_value(item, v)) for v in ticks]
    x_ticks: list[tuple[float, date]] = []
    if rows:
        x_ticks.append((x_of(first), first))
        if last != first:
            x_ticks.append((x_of(last), last))
    return Chart(field=item, points=points, path=path, y_ticks=y_ticks, x_ticks=x_ticks, first=first, last=last)


def format_value(item: DiaryField, value: float | None) -> str:
    """A value as the tables show it, in the reader's language: whole numbers plainly, others with one decimal."""
    if value is None:
        return ""
    return format_decimal(value, format="0.#")


def view_of(module: Module, segment: Segment, entries: list[DiaryEntry], recent_days: int | None = None,
            today: date | None = None, lang: str = "") -> DiaryView:
    """A diary with its weeks and charts; ``recent_days`` limits the chart and table to the latest days."""
    shown = entries
    if recent_days is not None:
        since = (today or local_today()) - timedelta(days=recent_days - 1)
        shown = [e for e in entries if e.day >= since]
    return DiaryView(module=module, segment=segment, entries=shown, weeks=weekly(segment.fields, entries),
                     charts=[chart(f, shown) for f in segment.fields],
                     latest=max(entries, key=lambda e: e.updated_at) if entries else None, lang=lang)


def views_for(enrolment: Enrolment, programme: Programme, lang: str, recent_days: int | None = None) -> list[DiaryView]:
    """Every diary of the programme with what the patient registered: one query for all of them."""
    blocks = diary_blocks(programme, lang)
    if not blocks:
        return []
    entries = entries_for(enrolment, [segment.id for _m, _v, segment in blocks])
    return [view_of(module, segment, entries.get(segment.id, []), recent_days, lang=version.lang)
            for module, version, segment in blocks]
