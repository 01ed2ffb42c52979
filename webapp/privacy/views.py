"""Patient data rights: a patient downloads everything Lotsa holds about them; an
administrator exports a patient's data or erases their app-only data."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from webapp.auth.models import Role, User
from webapp.core.access import role_required
from webapp.core.audit import log_access, security_event
from webapp.core.identity import IdentityError, normalise_personal_number
from webapp.extensions import db
from webapp.privacy import services

bp = Blueprint("privacy", __name__, template_folder="templates")

SECTION_LABELS = {
    "account": _l("Account"), "notification_choices": _l("Notification choices"), "sessions": _l("Log-ins"),
    "enrolments": _l("Programmes"), "enrolment_history": _l("Programme history"), "schedule": _l("Schedule"),
    "module_progress": _l("Progress"), "answers": _l("Answers"), "answer_versions": _l("Every saved answer"),
    "messages": _l("Messages"), "questionnaires_sent": _l("Questionnaires sent to you"),
    "questionnaire_answers": _l("Questionnaire answers"),
    "safety_alerts": _l("Answers your care team was alerted about, and what they did"), "care_plans": _l("Care plans"),
    "follow_up_contacts": _l("Follow-up contacts"), "groups": _l("Groups"),
    "notifications_sent": _l("Notifications sent"), "access_log": _l("Who has looked at your information"),
}


def _json_download(data: dict, name: str) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, indent=2, default=str), mimetype="application/json",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.route("/account/my-data")
@role_required("patient")
def my_data():
    """A readable copy of everything Lotsa holds about the patient, with a JSON download."""
    data = services.collect(current_user)
    log_access(current_user, "privacy.view_own", patient_id=current_user.id)
    html = render_template("privacy/my_data.html", data=data, labels=SECTION_LABELS)
    db.session.commit()
    return html


@bp.route("/account/my-data.json")
@role_required("patient")
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
