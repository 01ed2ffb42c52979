"""Site-wide pages: start page redirect, language choice, health check, errors."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from webapp.core.urls import safe_next
from webapp.extensions import db

bp = Blueprint("core", __name__, template_folder="templates")

# Where each role starts.
HOME_BY_ROLE = {
    "patient": "programme.home",
    "clinician": "clinician.caseload",
    "editor": "content.index",
    "admin": "admin.index",
}


@bp.route("/")
def index():
    """Send visitors to the login page and users to their role's start page."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME_BY_ROLE[current_user.role]))


@bp.route("/language", methods=["POST"])
def set_language():
    """Remember the chosen interface language (on the account when logged in)."""
    locale = request.form.get("locale", "")
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("core.index"))


@bp.route("/livez")
def livez():
    """Liveness only: the process answers. No database, no session; also the benchmarks' baseline."""
    return Response("ok\n", mimetype="text/plain")


@bp.route("/healthz")
def healthz():
    """Liveness and database check for load balancers and monitoring."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:  # report, do not raise: a monitor wants a status, not a trace
        current_app.logger.exception("health check failed")
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/accessibility")
def accessibility():
    """The accessibility statement (tillgänglighetsredogörelse)."""
    return render_template("core/accessibility.html")


def init_error_handlers(app) -> None:
    """Friendly error pages in the user's language."""

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        # Keep what the user typed (never passwords) so it can be copied back.
        kept = {
            key: value
            for key, value in request.form.items()
            if key not in {"csrf_token", "password", "confirm", "code"} and value.strip()
        }
        return render_template("core/csrf_error.html", kept=kept), 400

    @app.errorhandler(HTTPException)
    def http_error(error):
        code = error.code or 500
        if code in (400, 403, 404, 405, 410, 413, 429):
            if request.accept_mimetypes.best == "application/json":
                return jsonify(error=code), code
            return render_template("core/error.html", code=code), code
        return error

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return render_template("core/error.html", code=500), 500


def error_title(code: int) -> str:
    titles = {
        400: _("The request could not be understood"),
        403: _("You do not have access to this page"),
        404: _("The page could not be found"),
        405: _("That cannot be done here"),
        410: _("The link no longer works"),
        413: _("What you sent is too large"),
        429: _("Too many attempts"),
        500: _("Something went wrong on our side"),
    }
    return titles.get(code, _("Something went wrong"))


def error_text(code: int) -> str:
    texts = {
        400: _("Please go back and try again."),
        403: _("Your account does not give access to this page. If you think it should, contact your care unit."),
        404: _("Check the address, or go back to the start page."),
        405: _("Please go back and try again."),
        410: _("Ask for a new link."),
        413: _("Please send something smaller."),
        429: _("Please wait a minute before you try again."),
        500: _("We have been told about the problem. Please try again in a while; what you saved before is kept."),
    }
    return texts.get(code, "")
