"""Template helpers shared by every page."""

from __future__ import annotations

import json
from datetime import date

from babel.dates import TIMEDELTA_UNITS
from babel.dates import format_timedelta as babel_format_timedelta
from flask import Flask
from flask_babel import format_timedelta, get_locale
from markupsafe import Markup, escape

from webapp.core.dates import format_clock, format_day, format_moment, to_local
from webapp.core.db import utcnow
from webapp.core.pagecache import site_header
from webapp.core.urls import url_for_ids
from webapp.core.views import error_text, error_title

# Babel's defaults for format_timedelta, which timeago does not change.
_THRESHOLD = 0.85
_GRANULARITY = "minute"
# (locale, future, unit, count) -> Babel's words: a list of fifty rows asks Babel a handful of times.
_timeago_words: dict[tuple, str] = {}


def _timeago_key(seconds: int) -> tuple[bool, str, int]:
    """What Babel's format_timedelta picks for ``seconds`` (its own loop and rounding), the
    only inputs of its words besides the locale: the direction, the unit and the count."""
    for unit, secs_per_unit in TIMEDELTA_UNITS:
        value = abs(seconds) / secs_per_unit
        if value >= _THRESHOLD or unit == _GRANULARITY:
            if unit == _GRANULARITY and value > 0:
                value = max(1, value)
            return seconds >= 0, unit, int(round(value))
    raise AssertionError("the granularity is one of Babel's units")


def timeago(value) -> str:
    """'9 days ago' in the current language (Babel's words, looked up once per unit and count)."""
    if value is None:
        return ""
    delta = value - utcnow()
    locale = get_locale()
    if locale is None:  # outside a request: Babel's own default locale
        return format_timedelta(delta, granularity=_GRANULARITY, add_direction=True)
    seconds = int(delta.days * 86400 + delta.seconds)  # as Babel counts
    key = (locale, *_timeago_key(seconds))
    words = _timeago_words.get(key)
    if words is None:
        if len(_timeago_words) > 10_000:  # bounded: counts of years are unbounded
            _timeago_words.clear()
        words = _timeago_words[key] = babel_format_timedelta(
            seconds, _GRANULARITY, threshold=_THRESHOLD, add_direction=True, locale=locale)
    return words


def _isodate(value: str, style: str | None = None) -> str:
    """A yyyy-mm-dd string (as stored in JSON) as a day in the reader's language."""
    try:
        return format_day(date.fromisoformat(value))
    except (TypeError, ValueError):
        return value or ""


def _one_style(helper):
    """A filter in the one local style (core.dates). A style argument (``|date('short')``)
    is accepted from older templates and ignored: every page shows days and times alike."""
    return lambda value, style=None: helper(value)


def telephone(number: str, label: str | None = None) -> Markup:
    """A telephone number as a link a phone can call (``tel:``), written as people say it."""
    digits = "".join(ch for ch in str(number) if ch.isdigit() or ch == "+")
    return Markup('<a href="tel:%s" class="tel" dir="ltr">%s</a>') % (digits, label or number)


def isolate(value) -> Markup:
    """Text typed by a person (a name) in ``<bdi>``: its direction cannot reorder what follows."""
    # The text is escaped first; formatting it into a plain string is what Markup's %
    # does, without its helper object a row.
    # Bandit B704: the value is escaped above, the format string is a literal.
    return Markup("<bdi>%s</bdi>" % escape("" if value is None else value))  # nosec B704


def init_templating(app: Flask) -> None:
    """Filters and helpers every page may use; features add their own with
    ``Blueprint.app_context_processor`` (core knows no feature)."""

    @app.context_processor
    def _common():
        return {"error_title": error_title, "error_text": error_text}

    app.jinja_env.globals["url_for_ids"] = url_for_ids

    # Days and times in one local style, never with seconds (core.dates).
    app.jinja_env.filters["date"] = _one_style(format_day)
    app.jinja_env.filters["datetime"] = _one_style(format_moment)
    app.jinja_env.filters["clock"] = _one_style(format_clock)
    app.jinja_env.filters["tel"] = telephone
    app.jinja_env.filters["timeago"] = timeago
    app.jinja_env.filters["bdi"] = isolate
    app.jinja_env.filters["isodate"] = _isodate
    app.jinja_env.globals["site_header"] = site_header
    # Stockholm wall-clock time of a UTC datetime (for date and time inputs).
    app.jinja_env.filters["localtime"] = lambda value: to_local(value) if value else value
    app.jinja_env.filters["fromjson"] = lambda text: json.loads(text or "{}")
