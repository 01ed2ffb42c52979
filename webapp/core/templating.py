"""Template helpers shared by every page."""

from __future__ import annotations

import json
from datetime import date

from flask import Flask
from flask_babel import format_timedelta
from markupsafe import Markup

from webapp.core.dates import format_clock, format_day, format_moment, to_local
from webapp.core.db import utcnow
from webapp.core.pagecache import site_header
from webapp.core.views import error_text, error_title


def timeago(value) -> str:
    """'9 days ago' in the current language."""
    if value is None:
        return ""
    return format_timedelta(value - utcnow(), granularity="minute", add_direction=True)


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
    return Markup("<bdi>%s</bdi>") % ("" if value is None else value)


def init_templating(app: Flask) -> None:
    """Filters and helpers every page may use; features add their own with
    ``Blueprint.app_context_processor`` (core knows no feature)."""

    @app.context_processor
    def _common():
        return {"error_title": error_title, "error_text": error_text}

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
