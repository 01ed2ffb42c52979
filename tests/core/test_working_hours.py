"""add_working_hours: weekdays 08-17 Stockholm time; nights and weekends do not count."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from webapp.core.dates import STOCKHOLM, add_working_hours, to_local


def _local(text: str) -> datetime:
    return datetime.combine(datetime.fromisoformat(text).date(), datetime.fromisoformat(text).time(),
                            tzinfo=STOCKHOLM)


@pytest.mark.parametrize("start, hours, expected", [
    # Within one working day.
    ("2026-12-07 09:00", 4, "2026-12-07 13:00"),      # Monday
    ("2026-12-07 13:00", 4, "2026-12-07 17:00"),      # ends exactly at closing time
    # Over an evening: what is left of the day, then from 08:00 next morning.
    ("2026-12-07 15:30", 4, "2026-12-08 10:30"),
    ("2026-12-07 16:59", 4, "2026-12-08 11:59"),
    # Outside working hours counts from the next working morning.
    ("2026-12-07 06:15", 4, "2026-12-07 12:00"),
    ("2026-12-07 17:00", 4, "2026-12-08 12:00"),
    ("2026-12-07 22:40", 4, "2026-12-08 12:00"),
    # Over a weekend: Friday afternoon to Monday, Saturday and Sunday to Monday.
    ("2026-12-04 15:00", 4, "2026-12-07 10:00"),
    ("2026-12-05 11:00", 4, "2026-12-07 12:00"),
    ("2026-12-06 23:59", 4, "2026-12-07 12:00"),
    # More than a working day (9 hours a day).
    ("2026-12-07 08:00", 9, "2026-12-07 17:00"),
    ("2026-12-07 08:00", 13, "2026-12-08 12:00"),
    ("2026-12-04 08:00", 18, "2026-12-07 17:00"),
    # Fractions of an hour.
    ("2026-12-07 16:30", 0.75, "2026-12-08 08:15"),
    # Summer time starts on Sunday 29 March 2026 and ends on Sunday 25 October: 08:00 stays 08:00.
    ("2026-03-27 16:00", 4, "2026-03-30 11:00"),
    ("2026-10-23 16:00", 4, "2026-10-26 11:00"),
])
def test_working_hours_skip_evenings_and_weekends(start, hours, expected):
    got = add_working_hours(_local(start), hours)
    assert got.tzinfo is not None
    assert to_local(got).replace(tzinfo=None) == datetime.fromisoformat(expected)


def test_the_answer_is_utc_and_never_before_the_start():
    start = _local("2026-12-07 10:00")
    result = add_working_hours(start, 4)
    assert result.utcoffset().total_seconds() == 0
    assert result > start
    assert to_local(result).time() == time(14, 0)
