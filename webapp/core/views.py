"""Site-wide pages: start page redirect, language choice, health check, errors."""

from __future__ import annotations

import logging
import time

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, get_translations
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from webapp.core import drafts
from webapp.core.db import database_deadline
from webapp.core.i18n import template_gettext, text_direction
from webapp.core.urls import safe_next
from webapp.extensions import db

log = logging.getLogger("lotsa.database")

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
    """Readiness: a ``SELECT 1`` within HEALTHZ_TIMEOUT_SECONDS, else 503.

    On PostgreSQL its own connection in autocommit (no BEGIN and ROLLBACK round
    trips), under a deadline that also bounds the pool's ping and a reconnect,
    so a frozen database gives the monitor a quick 503 instead of a hung
    request. SQLite (a local file, it cannot freeze that way) is asked as before.
    """
    started = time.monotonic()
    try:
        with database_deadline(current_app.config["HEALTHZ_TIMEOUT_SECONDS"]), db.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # report, do not raise: a monitor wants a status, not a trace
        current_app.logger.error("health check failed after %.1f s: %s", time.monotonic() - started,
                                 _error_summary(exc))
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
        if not current_user.is_authenticated and request.form.get("csrf_token") \
                and request.blueprint not in ("auth", "core"):
            # A form from a session that has ended: keep its text for after the login (core.drafts).
            return drafts.ask_to_log_in()
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

    @app.errorhandler(DBAPIError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeoutError)
    def database_error(error):
        """The database failed under this request: the outage page (503) if it is unavailable.

        The log line names the error classes (and the driver's words for a
        connection error), never SQL values; tracebacks elsewhere leave the
        values out too (hide_parameters on the engine).
        """
        if not is_outage(error):
            # A constraint or a bug, not an outage: a server error as before
            # (logged with its traceback; the 500 handler rolls back).
            raise error
        locale = _locale_without_database()
        _rollback_quietly()
        log.warning("database unavailable during %s %s: %s", request.method, request.path, _error_summary(error))
        return outage_response(locale)

    @app.errorhandler(500)
    def server_error(error):
        locale = _locale_without_database()
        _rollback_quietly()
        return _server_error_page(locale)


def _server_error_page(locale: str):
    """The friendly 500 page, or the outage page when the page itself cannot reach the database.

    error.html extends base.html, whose context (the logged-in user, the unread
    count) is read from the database: with the database gone it would fail, and
    Flask would answer with its bare error page.
    """
    try:
        return render_template("core/error.html", code=500), 500
    except SQLAlchemyError as exc:
        log.warning("error page needs the database, which failed: %s", _error_summary(exc))
        _rollback_quietly()
        return outage_response(locale)


def is_outage(error: BaseException) -> bool:
    """True for errors that mean the database cannot be used now (down, frozen, overloaded)."""
    if isinstance(error, OperationalError) and getattr(error.orig, "sqlite_errorname", None) == "SQLITE_ERROR":
        # sqlite3 also calls a missing table or column an OperationalError: a bug
        # (or a migration not run), not an outage. Busy, locked, I/O and
        # cannot-open errors have their own codes and stay outages.
        return False
    if isinstance(error, (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _error_summary(error: BaseException) -> str:
    """Error classes and, for connection-level errors, the driver's first line; never SQL or values.

    Only connection-level errors carry their message: theirs are the driver's
    words about the connection or the server ("connection refused", "canceling
    statement due to statement timeout"). Other errors' texts may quote a row's
    values (a constraint's DETAIL), so they are left out.
    """
    orig = getattr(error, "orig", None)
    parts = [type(error).__name__]
    message = ""
    if orig is not None:
        parts.append(f"({type(orig).__name__})")
        if getattr(orig, "sqlstate", None):
            parts.append(f"sqlstate {orig.sqlstate}")
        if isinstance(error, (OperationalError, InterfaceError)):
            message = str(orig)
    elif isinstance(error, (PoolTimeoutError, DisconnectionError)):
        message = str(error)
    lines = message.strip().splitlines()
    if lines:
        parts.append(lines[0][:200])
    return " ".join(parts)


def _rollback_quietly() -> None:
    """Roll the request's session back; a dead connection must not raise a second error."""
    try:
        db.session.rollback()
    except SQLAlchemyError as exc:
        log.warning("rollback after a database error failed too: %s", type(exc).__name__)


def _locale_without_database() -> str:
    """The reader's language, worked out without a query.

    The logged-in user's language counts only if that row is already loaded
    (reading an expired attribute would query); otherwise the language chosen in
    the cookie session, else the browser's.
    """
    languages = current_app.config["LANGUAGES"]
    user = g.get("_login_user")
    if user is not None:
        try:
            locale = inspect(user).dict.get("locale")
        except SQLAlchemyError:  # the anonymous user is not a database row
            locale = None
        if locale in languages:
            return locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


# Form fields that are never shown back (as on the expired-form page).
_NOT_KEPT = {"csrf_token", "password", "confirm", "code"}


def outage_response(locale: str) -> Response:
    """A 503 page in ``locale`` that needs no database: core/outage.html rendered on its own.

    ``render_template`` would run every context processor, and several read
    the database (the logged-in user, the unread count, the session's time
    left), so the template gets only what it uses. What a user had typed into a
    form is shown back so that it can be copied, as on the expired-form page.
    """
    kept = {}
    if request.method == "POST":
        kept = {key: value for key, value in request.form.items() if key not in _NOT_KEPT and value.strip()}
    with force_locale(locale):
        html = current_app.jinja_env.get_template("core/outage.html").render(
            current_locale=locale, text_direction=text_direction(locale), kept=kept,
            title=error_title(500), text=error_text(500), **template_gettext(get_translations()))
    response = Response(html, status=503, mimetype="text/html")
    # Ask clients and proxies to come back soon, and never cache the page.
    response.headers["Retry-After"] = "30"
    response.cache_control.no_store = True
    return response


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
