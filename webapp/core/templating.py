"""Template helpers shared by every page."""

from __future__ import annotations

import json
from datetime import date

from flask import Flask
from flask_babel import format_date, format_datetime, format_timedelta
from markupsafe import Markup

from webapp.core.dates import to_local
from webapp.core.db import utcnow
from webapp.core.views import error_text, error_title


def timeago(value) -> str:
    """'9 days ago' in the current language."""
    if value is None:
        return ""
    return format_timedelta(value - utcnow(), granularity="minute", add_direction=True)


def _isodate(value: str, fmt: str = "medium") -> str:
    """A yyyy-mm-dd string (as stored in JSON) formatted for the reader's language."""
    try:
        return format_date(date.fromisoformat(value), fmt)
    except (TypeError, ValueError):
        return value or ""


def isolate(value) -> Markup:
    """Text typed by a person (a name) in ``<bdi>``: its direction cannot reorder what follows."""
    return Markup("<bdi>%s</bdi>") % ("" if value is None else value)


def init_templating(app: Flask) -> None:
    """Filters and helpers every page may use; features add their own with
    ``Blueprint.app_context_processor`` (core knows no feature)."""

    @app.context_processor
    def _common():
        return {"error_title": error_title, "error_text": error_text}

    app.jinja_env.filters["date"] = lambda value, fmt="medium": format_date(value, fmt) if value else ""
    app.jinja_env.filters["datetime"] = (
        lambda value, fmt="medium": format_datetime(value, fmt) if value else ""
    )
    app.jinja_env.filters["timeago"] = timeago
    app.jinja_env.filters["bdi"] = isolate
    app.jinja_env.filters["isodate"] = _isodate
    # Stockholm wall-clock time of a UTC datetime (for date and time inputs).
    app.jinja_env.filters["localtime"] = lambda value: to_local(value) if value else value
    app.jinja_env.filters["fromjson"] = lambda text: json.loads(text or "{}")
