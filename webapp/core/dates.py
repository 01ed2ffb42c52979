"""The one clock: Swedish days and times, and dates typed into forms.

Timestamps are stored in UTC (``core.db.utcnow``); people live in Swedish
time. A "day" in Lotsa is always a day in Stockholm: a questionnaire due on
the 3rd is due until midnight in Sweden, a contact at 14:00 is 14:00 there,
summer or winter. Every feature turns days into timestamps here.

A date typed far outside the planning range (year 9999, say) is a typing
error, and would also overflow when converted to Swedish time for display.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from babel.dates import get_datetime_format
from flask_babel import format_date, format_time, get_locale

from webapp.core.db import utcnow

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def to_local(at: datetime) -> datetime:
    """A UTC timestamp as Swedish wall-clock time."""
    return at.astimezone(STOCKHOLM)


def local_today(now: datetime | None = None) -> date:
    """Today's date in Sweden."""
    return to_local(now or utcnow()).date()


def at_local(day: date, clock: time = time(0, 0)) -> datetime:
    """The UTC timestamp of ``clock`` on ``day`` in Swedish time."""
    return datetime.combine(day, clock, tzinfo=STOCKHOLM).astimezone(timezone.utc)


def day_start(day: date) -> datetime:
    """The first moment of a Swedish day, in UTC."""
    return at_local(day)


def day_end(day: date) -> datetime:
    """The first moment after a Swedish day (exclusive end), in UTC."""
    return at_local(day + timedelta(days=1))

PAST_YEARS, FUTURE_YEARS = 5, 10


def in_planning_range(day: date, today: date | None = None) -> bool:
    today = today or local_today()
    return today.year - PAST_YEARS <= day.year <= today.year + FUTURE_YEARS


def parse_day(text: str | None, today: date | None = None) -> date:
    """A yyyy-mm-dd date within the planning range; ValueError otherwise."""
    day = date.fromisoformat((text or "").strip())
    if not in_planning_range(day, today):
        raise ValueError("out of range")
    return day


def parse_filter_day(text: str | None) -> date:
    """A yyyy-mm-dd date for a search filter: any plausible year (no overflow at the edges)."""
    day = date.fromisoformat((text or "").strip())
    if not 1900 <= day.year <= 2200:
        raise ValueError("out of range")
    return day



# --- showing days and times to people ----------------------------------------------
#
# One style everywhere, in the reader's language: the day as CLDR's "long" date
# ("3 december 2026", "3 ديسمبر 2026"), which no reader can take for another
# day, and the clock to the minute ("14:00"; never seconds, never ISO). Templates
# reach these through the ``date``, ``datetime`` and ``clock`` filters
# (core/templating.py); Python code that writes text for people calls them too.

DAY_STYLE = "long"


def _as_local(value):
    """A datetime in Swedish time (naive ones are UTC, as stored), a date as it is; ISO strings parsed."""
    if isinstance(value, str):
        text = value.strip()
        value = datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
    if isinstance(value, datetime):
        return to_local(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    return value


def format_day(value) -> str:
    """The day of a date, datetime or ISO string in the reader's language ("3 december 2026")."""
    if value is None or value == "":
        return ""
    return format_date(_as_local(value), DAY_STYLE, rebase=False) if isinstance(value, datetime | str) \
        else format_date(value, DAY_STYLE)


def format_clock(value) -> str:
    """The Swedish wall-clock time of a datetime, to the minute ("14:00")."""
    if value is None or value == "":
        return ""
    return format_time(_as_local(value), "short", rebase=False)


def format_moment(value) -> str:
    """Day and time together ("3 december 2026 14:00"), in the order the reader's language uses."""
    if value is None or value == "":
        return ""
    local = _as_local(value)
    if not isinstance(local, datetime):
        return format_day(local)
    pattern = get_datetime_format("medium", locale=get_locale() or "sv")
    return pattern.replace("{1}", format_day(local)).replace("{0}", format_clock(local)).replace("'", "")
# Working hours for things that wait for staff (a safety alert's escalation):
# weekdays 08:00-17:00 Stockholm time. Public holidays are not known here.
WORK_START, WORK_END = time(8, 0), time(17, 0)


def add_working_hours(start: datetime, hours: float) -> datetime:
    """The UTC moment ``hours`` working hours after ``start`` (weekends and nights do not count).

    A start outside working hours counts from the next working morning. Each
    working day is rebuilt from its wall-clock times, so a change to or from
    summer time overnight does not move 08:00.
    """
    remaining = timedelta(hours=hours)
    at = start.astimezone(timezone.utc)
    while True:
        day = to_local(at).date()
        opens, closes = at_local(day, WORK_START), at_local(day, WORK_END)
        if day.weekday() >= 5 or at >= closes:
            at = at_local(day + timedelta(days=1), WORK_START)
            continue
        at = max(at, opens)
        if at + remaining <= closes:
            return at + remaining
        remaining -= closes - at
        at = at_local(day + timedelta(days=1), WORK_START)
