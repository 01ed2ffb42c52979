"""Content editors' pages."""

from __future__ import annotations

from flask import Blueprint, render_template

from webapp.content.services import get_catalogue
from webapp.core.access import role_required

bp = Blueprint("content", __name__, url_prefix="/content", template_folder="templates")


@bp.route("/")
@role_required("editor", "admin")
def index():
    """List the programmes in the catalogue and any problems found in the files."""
    return render_template("content/index.html", catalogue=get_catalogue())
