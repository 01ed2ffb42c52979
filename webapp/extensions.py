"""Flask extensions, created unbound here and attached in create_app()."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from webapp.core.db import Base, configure_postgres

# Importing the class registers the rate limits' default storage scheme, lotsa-sqlite://.
from webapp.core.ratelimits import SQLiteRateLimitStorage  # noqa: F401


class LotsaSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy whose PostgreSQL engines never wait for ever for their server.

    The engine options (pre-ping, connect and statement timeouts, keepalives)
    come from SQLALCHEMY_ENGINE_OPTIONS, which webapp/config.py derives from the
    DATABASE_* settings; the limit on waiting for an answer needs a hook on the
    engine itself (``configure_postgres``), added here as each engine is made.
    """

    def _make_engine(self, bind_key, options, app):
        engine = super()._make_engine(bind_key, options, app)
        configure_postgres(engine, response_timeout=app.config.get("DATABASE_RESPONSE_TIMEOUT_SECONDS", 0),
                           ping_timeout=app.config.get("DATABASE_CONNECT_TIMEOUT_SECONDS", 5),
                           ping_after_idle=app.config.get("DATABASE_PING_IDLE_SECONDS", 10))
        return engine


db = LotsaSQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
# Storage, strategy and enabling come from config (RATELIMIT_STORAGE_URI,
# RATELIMIT_STRATEGY, RATELIMIT_ENABLED); the default storage is core.ratelimits'.
limiter = Limiter(get_remote_address)
