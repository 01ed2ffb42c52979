"""Lotsa: digital self-care programmes for Swedish health care.

``create_app()`` is the only thing here: a readable list of the steps that make
the application.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from webapp.config import PROJECT_ROOT, load_config, validate_config
from webapp.core.requests import LotsaRequest


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Lotsa application; ``config`` overrides defaults and environment."""
    instance_path = os.environ.get("LOTSA_INSTANCE_PATH") or str(PROJECT_ROOT / "instance")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=False)
    app.request_class = LotsaRequest
    # The instance folder holds the SQLite database, the development secret and
    # mailbox: nobody but the service's own user may read it.
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    if os.stat(app.instance_path).st_uid == os.geteuid():
        os.chmod(app.instance_path, 0o700)

    settings = load_config(config)
    validate_config(settings, app.instance_path)
    app.config.update(settings)

    _init_extensions(app)
    _load_content(app)
    _register_url_converters(app)
    _register_blueprints(app)
    _connect_receivers()
    _init_web(app)
    _register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    # Import every model module so metadata is complete for Alembic and create_all.
    import webapp.models  # noqa: F401
    from webapp.auth.services import load_session_user
    from webapp.core.db import configure_sqlite
    from webapp.core.i18n import select_locale
    from webapp.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    # Sessions are server-side rows; Flask-Login's own protection would only
    # duplicate that and log people out when their IP changes on mobile networks.
    login_manager.session_protection = None
    login_manager.user_loader(load_session_user)

    from webapp.auth.oidc import init_oidc

    init_oidc(app)  # the e-ID providers configured, if any


def _load_content(app: Flask) -> None:
    from webapp.content.services import init_catalogue
    from webapp.editor.services import init_release_watch

    init_catalogue(app)
    init_release_watch(app)


def _register_url_converters(app: Flask) -> None:
    """Every ``<int:...>`` in a route takes ASCII digits within the database's range (else 404)."""
    from webapp.core.numbers import IdConverter

    app.url_map.converters["int"] = IdConverter


def _register_blueprints(app: Flask) -> None:
    from webapp.account.views import bp as account_bp
    from webapp.admin.views import bp as admin_bp
    from webapp.auth.views import bp as auth_bp
    from webapp.careplan.views import bp as careplan_bp
    from webapp.clinician.views import bp as clinician_bp
    from webapp.content.views import bp as content_bp
    from webapp.core.views import bp as core_bp
    from webapp.editor.views import bp as editor_bp
    from webapp.groups.views import bp as groups_bp
    from webapp.interop.views import bp as interop_bp
    from webapp.library.views import bp as library_bp
    from webapp.messages.views import bp as messages_bp
    from webapp.notifications.views import bp as notifications_bp
    from webapp.privacy.views import bp as privacy_bp
    from webapp.programme.views import bp as programme_bp
    from webapp.questionnaires.views import bp as questionnaires_bp
    from webapp.referrals.views import bp as referrals_bp
    from webapp.replies.views import bp as replies_bp

    for blueprint in (core_bp, auth_bp, programme_bp, clinician_bp, content_bp, admin_bp, notifications_bp,
                      messages_bp, questionnaires_bp, careplan_bp, groups_bp, privacy_bp, account_bp, library_bp,
                      editor_bp, referrals_bp, replies_bp, interop_bp):
        app.register_blueprint(blueprint)


def _connect_receivers() -> None:
    """Features react to each other through signals; see each ``receivers.py``."""
    from webapp.account import receivers as account_receivers
    from webapp.admin import receivers as admin_receivers
    from webapp.programme import receivers as programme_receivers
    from webapp.questionnaires import receivers as questionnaire_receivers
    from webapp.referrals import receivers as referral_receivers

    for receivers in (admin_receivers, programme_receivers, questionnaire_receivers, account_receivers,
                      referral_receivers):
        receivers.connect()


def _init_web(app: Flask) -> None:
    from webapp.core.drafts import init_drafts
    from webapp.core.i18n import init_i18n
    from webapp.core.security import init_security_headers
    from webapp.core.static import init_static
    from webapp.core.templating import init_templating
    from webapp.core.views import init_error_handlers

    init_security_headers(app)
    init_static(app)
    init_error_handlers(app)
    init_i18n(app)
    init_templating(app)
    init_drafts(app)
    if app.config["PROXY_FIX"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)


def _register_cli(app: Flask) -> None:
    from webapp.admin.backup import backup_command, restore_command
    from webapp.admin.cli import demo
    from webapp.admin.staff_cli import staff
    from webapp.auth.cli import units, users
    from webapp.content.cli import content
    from webapp.scheduler import scheduler_command

    for command in (users, units, staff, demo, content, scheduler_command, backup_command, restore_command):
        app.cli.add_command(command)
