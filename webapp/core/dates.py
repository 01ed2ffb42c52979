"""Dates typed into forms: well formed, and within the years the service plans in.

A date far outside that range (year 9999, say) is a typing error, and would also
overflow when converted to Swedish time for display.
"""

from __future__ import annotations

from datetime import date

PAST_YEARS, FUTURE_YEARS = 5, 10


def in_planning_range(day: date, today: date | None = None) -> bool:
    today = today or date.today()
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
