"""Administrator pages."""

from __future__ import annotations

from flask import Blueprint, render_template

from webapp.admin import services
from webapp.core.access import role_required

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


@bp.route("/")
@role_required("admin")
def index():
    """Care units and staff accounts."""
    return render_template("admin/index.html", units=services.units_with_counts(), staff=services.staff())


@bp.route("/access-log")
@role_required("admin")
def access_log():
    """The latest entries of the append-only access log."""
    return render_template("admin/access_log.html", entries=services.recent_access_log())
