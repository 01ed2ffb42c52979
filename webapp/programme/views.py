"""Patient pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.markdown import render_markdown
from webapp.extensions import db
from webapp.programme import services

bp = Blueprint("programme", __name__, template_folder="templates")


@bp.route("/home")
@role_required("patient")
def home():
    """The patient's start page: each programme with the clinician's welcome text."""
    enrolments = services.open_enrolments_for_patient(current_user)
    if services.record_activity(enrolments):
        db.session.commit()
    return render_template(
        "programme/home.html",
        enrolments=enrolments,
        catalogue=get_catalogue(),
        render_markdown=render_markdown,
    )
