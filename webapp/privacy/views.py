"""Patient data rights: a patient downloads everything Lotsa holds about them; an
administrator exports a patient's data or erases their app-only data."""

from __future__ import annotations

import json
import re
from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from webapp.auth.models import Role, User
from webapp.auth.views import fresh_login_required
from webapp.core.access import role_required
from webapp.core.audit import log_access, security_event
from webapp.core.dates import STOCKHOLM, format_day, format_moment
from webapp.core.i18n import LANGUAGE_NAMES
from webapp.core.identity import IdentityError, format_personal_number, normalise_personal_number
from webapp.extensions import db
from webapp.privacy import labels, services
from webapp.programme.enrolments import STATUS_LABELS

bp = Blueprint("privacy", __name__, template_folder="templates")

ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}\S*$")
# A day, or a day and a Swedish wall-clock time, inside a text (a history line, a plan).
EMBEDDED = re.compile(r"\b(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}))?(?::\d{2}(?:\.\d+)?)?\b")
# Columns that hold JSON text (a plan, questionnaire answers): shown as what they contain.
JSON_FIELDS = {"content", "answers", "subscales", "checked_items"}


def _embedded(match: re.Match) -> str:
    try:
        if match.group(2):
            return format_moment(datetime.fromisoformat(f"{match.group(1)} {match.group(2)}").replace(tzinfo=STOCKHOLM))
        return format_day(match.group(1))
    except ValueError:
        return match.group(0)


def structured(field: str, value):
    """JSON text as the data it holds (so a plan reads as its goals, not as braces); other values as they are."""
    if field in JSON_FIELDS and isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def readable(field: str, value) -> str:
    """One stored value as a person reads it: days and times in the local style, yes/no, known codes in words."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str):
        if ISO_MOMENT.match(value):
            return format_moment(value)
        if field == "status" and value in STATUS_LABELS:
            return str(STATUS_LABELS[value])
        if field == "locale":
            return LANGUAGE_NAMES.get(value, value)
        if field == "role" and value in labels.VALUES:
            return str(labels.VALUES[value])
        if field in ("side", "channel") and value in labels.VALUES:
            return str(labels.VALUES[value])
        if field == "personal_number":
            return format_personal_number(value)
        return EMBEDDED.sub(_embedded, value)
    return "" if value is None else str(value)




def _json_download(data: dict, name: str) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, indent=2, default=str), mimetype="application/json",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.route("/account/my-data")
@role_required("patient")
def my_data():
    """A readable copy of everything Lotsa holds about the patient, with a JSON download."""
    data = services.collect(current_user)
    log_access(current_user, "privacy.view_own", patient_id=current_user.id)
    html = render_template("privacy/my_data.html", data=data, groups=labels.GROUPS, sections=labels.SECTIONS,
                           fields=labels.FIELDS, readable=readable, structured=structured)
    db.session.commit()
    return html


@bp.route("/account/my-data.json")
@role_required("patient")
@fresh_login_required
def my_data_json():
    """Everything Lotsa holds about the patient, as JSON."""
    data = services.collect(current_user)
    log_access(current_user, "privacy.export_own", patient_id=current_user.id)
    db.session.commit()
    return _json_download(data, "lotsa-my-data.json")


def _patient_or_404(user_id: int) -> User:
    patient = db.session.get(User, user_id)
    if patient is None or patient.role != Role.PATIENT.value:
        abort(404)
    return patient


@bp.route("/admin/privacy")
@role_required("admin")
def admin_index():
    """Find a patient by personal identity number to export or erase their data."""
    patient, error = None, None
    raw = request.args.get("personal_number", "").strip()
    if raw:
        try:
            number = normalise_personal_number(raw)
        except IdentityError:
            error = _("Write the personal identity number as YYYYMMDD-NNNN.")
        else:
            patient = db.session.scalar(select(User).where(User.personal_number == number,
                                                            User.role == Role.PATIENT.value))
            if patient is None:
                error = _("No patient with that personal identity number.")
            else:
                log_access(current_user, "privacy.lookup", patient_id=patient.id)
    html = render_template("privacy/admin.html", patient=patient, error=error, raw=raw)
    db.session.commit()
    return html


@bp.route("/admin/privacy/<int:user_id>/export.json")
@role_required("admin")
@fresh_login_required
def admin_export(user_id: int):
    """Everything Lotsa holds about one patient, as JSON (audit-logged)."""
    patient = _patient_or_404(user_id)
    data = services.collect(patient)
    security_event("patient_data_exported", current_user._get_current_object(), f"patient {patient.id}")
    log_access(current_user, "privacy.export", patient_id=patient.id)
    db.session.commit()
    return _json_download(data, f"lotsa-patient-{patient.id}.json")


@bp.route("/admin/privacy/<int:user_id>/erase", methods=["POST"])
@role_required("admin")
@fresh_login_required
def admin_erase(user_id: int):
    """Erase a patient's app-only data; record-relevant data follows the retention period."""
    patient = _patient_or_404(user_id)
    if request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm the erasure."), "error")
        return redirect(url_for("privacy.admin_index", personal_number=patient.personal_number or ""))
    counts = services.erase_app_data(patient)
    security_event("patient_data_erased", current_user._get_current_object(),
                   f"patient {patient.id}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    log_access(current_user, "privacy.erase", patient_id=patient.id)
    db.session.commit()
    flash(_("The app-only data is erased. Answers, messages and scores are kept for the retention period."),
          "success")
    return redirect(url_for("privacy.admin_index", personal_number=patient.personal_number or ""))
