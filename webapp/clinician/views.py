"""Clinician pages."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from webapp.clinician import services
from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.extensions import db

bp = Blueprint("clinician", __name__, url_prefix="/clinician", template_folder="templates")


@bp.route("/")
@role_required("clinician")
def caseload():
    """The clinician's start page: enrolments in their care units."""
    page = request.args.get("page", 1, type=int) or 1
    enrolments, total = services.caseload(current_user, page)
    # Names and identity numbers on screen are a read of patient data.
    log_access(current_user, "caseload.view", detail=f"page {page}, {len(enrolments)} of {total}")
    db.session.commit()
    return render_template(
        "clinician/caseload.html",
        enrolments=enrolments,
        total=total,
        page=page,
        page_size=services.PAGE_SIZE,
        catalogue=get_catalogue(),
    )
