"""Administrator pages: units and staff, the access log, aggregate follow-up."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, render_template, request
from flask_login import current_user

from webapp.admin import services
from webapp.auth.models import CareUnit
from webapp.auth.services import units_of
from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.audit import security_event
from webapp.core.dates import parse_filter_day
from webapp.core.db import utcnow
from webapp.extensions import db
from webapp.notifications.services import failed_deliveries, last_heartbeat

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


def _date_arg(name: str) -> date | None:
    try:
        return parse_filter_day(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/")
@role_required("admin")
def index():
    """Care units, staff accounts, the scheduler's heartbeat and failed deliveries."""
    beat = last_heartbeat()
    scheduler_ok = beat is not None and utcnow() - beat < timedelta(minutes=2)
    return render_template("admin/index.html", units=services.units_with_counts(), staff=services.staff(),
                           last_beat=beat, scheduler_ok=scheduler_ok, failed=failed_deliveries())


@bp.route("/access-log")
@role_required("admin")
def access_log():
    """The access log, filterable by patient, staff member and period; CSV with ?format=csv."""
    filters = services.AccessLogFilters(patient=request.args.get("patient", "")[:40],
                                        staff=request.args.get("staff", "")[:254],
                                        start=_date_arg("start"), end=_date_arg("end"))
    # Reading the access log is itself a security event (who looked, for what).
    detail = (f"patient {filters.patient!r} staff {filters.staff!r} {filters.start or ''}..{filters.end or ''}"
              f"{' csv' if request.args.get('format') == 'csv' else ''}")
    if request.args.get("format") == "csv":
        # Written before the commit, which expires the rows: reading them after would cost a query per row.
        body = services.access_log_csv(services.access_log(filters, limit=None))
        security_event("access_log_read", current_user._get_current_object(), detail)
        db.session.commit()
        return Response(body, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=lotsa-access-log.csv"})
    html = render_template("admin/access_log.html", rows=services.access_log(filters), filters=filters)
    security_event("access_log_read", current_user._get_current_object(), detail)
    db.session.commit()
    return html


@bp.route("/follow-up")
@role_required("admin", "clinician")
def follow_up():
    """Aggregate follow-up per care unit and programme; no patient identities."""
    if current_user.role == "admin":
        units = list(db.session.scalars(db.select(CareUnit).order_by(CareUnit.name)))
    else:
        units = units_of(current_user)
    catalogue = get_catalogue()
    rows = services.follow_up(units, catalogue)
    if request.args.get("format") == "csv":
        return Response(services.follow_up_csv(rows, catalogue), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=lotsa-follow-up.csv"})
    return render_template("admin/follow_up.html", rows=rows, catalogue=catalogue, forms=catalogue.forms)
