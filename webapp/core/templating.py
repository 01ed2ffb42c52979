"""Template helpers shared by every page."""

from __future__ import annotations

import json
from datetime import date
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_date, format_datetime, format_timedelta
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from webapp.core.db import utcnow
from webapp.core.views import error_text, error_title

ROLE_LABELS = {
    "patient": _l("Patient"),
    "clinician": _l("Clinician"),
    "editor": _l("Content editor"),
    "admin": _l("Administrator"),
    "system": _l("System"),
}

STATUS_LABELS = {
    "invited": _l("Invited"),
    "active": _l("Active"),
    "maintenance": _l("Maintenance phase"),
    "closed": _l("Closed"),
}


FLAG_LABELS = {
    "safety": _l("Safety answer"),
    "inactive": _l("Inactive 14+ days"),
    "duration_reached": _l("Recommended duration reached"),
    "closing_soon": _l("Recommended duration ends soon"),
}

EVENT_LABELS = {
    "opened": _l("Access opened"),
    "closed": _l("Access closed"),
    "reopened": _l("Access opened again"),
    "extended": _l("Duration extended (days)"),
    "maintenance": _l("Maintenance phase started"),
    "handed_over": _l("Handed over"),
    "welcome_edited": _l("Welcome text changed"),
    "schedule_changed": _l("Schedule changed"),
    "end_date": _l("End date set"),
    "safety_acknowledged": _l("Safety answer handled"),
}


def timeago(value) -> str:
    """'9 days ago' in the current language."""
    if value is None:
        return ""
    return format_timedelta(value - utcnow(), granularity="minute", add_direction=True)


STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _isodate(value: str, fmt: str = "medium") -> str:
    """A yyyy-mm-dd string (as stored in JSON) formatted for the reader's language."""
    try:
        return format_date(date.fromisoformat(value), fmt)
    except (TypeError, ValueError):
        return value or ""


def band_label(form, stored: str) -> str:
    """A stored band (its English label) in the reader's language."""
    from flask_babel import get_locale

    locale = str(get_locale() or "sv")
    for scale in [form.total, *form.subscales.values()] if form.total else form.subscales.values():
        for band in scale.bands:
            if band.labels.get("en") == stored:
                return band.labels.get(locale) or stored
    return stored


def init_templating(app: Flask) -> None:
    @app.context_processor
    def _common():
        from webapp.auth.services import session_times

        from webapp.messages.views import unread_count

        times = session_times() if current_user.is_authenticated else None
        return {
            "unread_count": unread_count(),
            "session_seconds_left": times.seconds_left if times else None,
            "session_warning_seconds": current_app.config["SESSION_WARNING_SECONDS"],
            "error_title": error_title,
            "error_text": error_text,
            "role_label": lambda role: str(ROLE_LABELS.get(role, role)),
            "status_label": lambda status: str(STATUS_LABELS.get(status, status)),
            "flag_label": lambda flag: str(FLAG_LABELS.get(flag, flag)),
            "event_label": lambda kind: str(EVENT_LABELS.get(kind, kind)),
            "band_label": band_label,
        }

    app.jinja_env.filters["date"] = lambda value, fmt="medium": format_date(value, fmt) if value else ""
    app.jinja_env.filters["datetime"] = (
        lambda value, fmt="medium": format_datetime(value, fmt) if value else ""
    )
    app.jinja_env.filters["timeago"] = timeago
    app.jinja_env.filters["isodate"] = _isodate
    # Stockholm wall-clock time of a UTC datetime (for date and time inputs).
    app.jinja_env.filters["localtime"] = lambda value: value.astimezone(STOCKHOLM) if value else value
    app.jinja_env.filters["fromjson"] = lambda text: json.loads(text or "{}")
