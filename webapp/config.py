"""Configuration: defaults with a comment per key, environment overrides, validation.

Every key can be overridden by an environment variable of the same name (values
are parsed as JSON-ish scalars: ``true``/``false``, integers, or plain strings).
``create_app(config)`` applies overrides in this order: defaults, environment,
the ``config`` mapping passed in (tests use the last one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from webapp.core.dates import STOCKHOLM

#: Repository root (the folder holding ``webapp/``, ``content/``, ``translations/``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration cannot work; the message says why."""


DEFAULTS: dict[str, Any] = {
    # "development" allows a generated SECRET_KEY and the demo helpers;
    # "production" refuses to start without a real SECRET_KEY and HTTPS cookies.
    "LOTSA_ENV": "development",
    # Signs session cookies and CSRF tokens. Required in production.
    # Bandit B105: a setting name, not a password.
    "SECRET_KEY": None,  # nosec B105
    # SQLAlchemy URL. Empty means the SQLite file instance/lotsa.sqlite3.
    # PostgreSQL: postgresql+psycopg://user@host:5432/dbname
    "DATABASE_URL": "",
    # Seconds a SQLite connection waits for a lock before failing.
    "SQLITE_BUSY_TIMEOUT_MS": 5000,
    # Public base URL used in links that leave the site (e-mail, SMS).
    "BASE_URL": "http://127.0.0.1:5000",
    # Log a patient or staff member out after this many minutes without activity.
    "SESSION_IDLE_MINUTES": 15,
    # Warn this many seconds before the idle timeout (WCAG 2.2.1: a way to extend).
    "SESSION_WARNING_SECONDS": 120,
    # A session ends after this many hours however active it is.
    "SESSION_ABSOLUTE_HOURS": 12,
    # How often (seconds) a session's last-seen time is written to the database.
    "SESSION_TOUCH_SECONDS": 60,
    # Minutes the password step of a staff login stays valid while they enter the code.
    "MFA_PENDING_MINUTES": 5,
    # Days an invitation link stays valid.
    "INVITATION_DAYS": 14,
    # Minutes a password-reset link stays valid.
    "RESET_MINUTES": 60,
    # Shortest password we accept (NIST 800-63B suggests at least 8; we ask 10).
    # Bandit B105: a setting name, not a password.
    "PASSWORD_MIN_LENGTH": 10,  # nosec B105
    # Flask-Limiter storage; use redis://127.0.0.1:6379 with several app servers.
    "RATELIMIT_STORAGE_URI": "memory://",
    # If that storage cannot be reached, count in each process's memory until it
    # is back, instead of failing every login with a server error.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    # Login attempts allowed per client address and per account name.
    "RATELIMIT_LOGIN": "10 per minute",
    "RATELIMIT_LOGIN_ACCOUNT": "5 per minute",
    # One-time-code attempts per client address.
    "RATELIMIT_OTP": "10 per minute",
    # Messages a user may send per minute (stops floods, not conversations).
    "RATELIMIT_MESSAGES": "20 per minute",
    # Password-reset requests per client address.
    "RATELIMIT_RESET": "5 per 15 minutes",
    # Turn rate limiting off entirely (tests that are not about limits).
    "RATELIMIT_ENABLED": True,
    # Interface languages: Swedish is the default, Arabic is written right to left.
    "LANGUAGES": ["sv", "en", "ar"],
    "BABEL_DEFAULT_LOCALE": "sv",
    "BABEL_DEFAULT_TIMEZONE": STOCKHOLM.key,
    # Outgoing e-mail (SMTP). Port 0 disables e-mail delivery.
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": 0,
    "SMTP_USERNAME": "",
    # Bandit B105: empty default, set from the environment.
    "SMTP_PASSWORD": "",  # nosec B105
    # "starttls", "ssl" or "none".
    "SMTP_SECURITY": "none",
    "MAIL_FROM": "Lotsa <no-reply@lotsa.invalid>",
    # Years that record-relevant data (answers, messages, scores, plans) is kept
    # after an enrolment is closed; then the scheduler deletes it (docs/privacy.md).
    "RECORD_RETENTION_YEARS": 10,
    # Where anyone, logged in or not, can report an accessibility problem
    # (shown in the accessibility statement).
    "ACCESSIBILITY_CONTACT": "tillganglighet@lotsa.invalid",
    # SMS gateway: JSON over HTTP POST; empty URL disables SMS delivery.
    "SMS_GATEWAY_URL": "",
    # Bandit B105: empty default, set from the environment.
    "SMS_GATEWAY_TOKEN": "",  # nosec B105
    "SMS_SENDER": "Lotsa",
    # Scheduler: seconds between sweeps of the notification outbox.
    "SCHEDULER_INTERVAL_SECONDS": 5,
    # Items claimed per sweep; a claim older than this many seconds is retried.
    "OUTBOX_BATCH_SIZE": 200,
    "OUTBOX_CLAIM_TIMEOUT_SECONDS": 600,
    # Give up on an item after this many failed deliveries (it is kept as failed).
    "OUTBOX_MAX_ATTEMPTS": 8,
    # Where programmes, media files and questionnaire definitions are read from.
    "CONTENT_ROOT": str(PROJECT_ROOT / "content" / "modules"),
    "MEDIA_ROOT": str(PROJECT_ROOT / "media"),
    "FORMS_ROOT": str(PROJECT_ROOT / "content" / "forms"),
    # Re-read content when files change (at most once a second). Empty: on in development.
    "CONTENT_AUTO_RELOAD": "",
    # Behind nginx: hand media files to nginx with X-Accel-Redirect under this
    # internal location (e.g. /protected-media/); empty serves them from Python.
    "MEDIA_X_ACCEL_PREFIX": "",
    # Set when served over HTTPS: secure cookies and HSTS.
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "lotsa_session",
    # CSRF tokens live as long as the absolute session lifetime.
    "WTF_CSRF_TIME_LIMIT": 12 * 3600,
    # Largest request body accepted (bytes).
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    # Trust one proxy's X-Forwarded-* headers (set behind nginx).
    "PROXY_FIX": False,
    # Flask-SQLAlchemy: we never want the event system's modification tracking.
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    # Echo SQL to the log (debugging only).
    "SQLALCHEMY_ECHO": False,
}


def _parse_env(value: str, default: Any) -> Any:
    """Parse an environment string into the type of the default."""
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError as exc:
            raise ConfigError(f"{value!r} is not a whole number") from exc
    if isinstance(default, list):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def load_config(overrides: dict[str, Any] | None = None, environ=None) -> dict[str, Any]:
    """Return the merged configuration: defaults < environment < overrides."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        if key in environ:
            try:
                config[key] = _parse_env(environ[key], default)
            except ConfigError as exc:
                raise ConfigError(f"Environment variable {key}: {exc}") from None
    config.update(overrides or {})
    return config


def validate_config(config: dict[str, Any], instance_path: str) -> None:
    """Fill in derived values and fail fast, with a clear message, on bad settings."""
    env = config["LOTSA_ENV"]
    if env not in {"development", "production", "testing"}:
        raise ConfigError(f"LOTSA_ENV must be development, production or testing, not {env!r}")
    if not config.get("SECRET_KEY"):
        if env == "production":
            raise ConfigError(
                "SECRET_KEY is not set. In production, set it to a long random value, "
                'e.g. SECRET_KEY="$(python -c \'import secrets; print(secrets.token_hex(32))\')"'
            )
        config["SECRET_KEY"] = _development_secret(instance_path)
    elif env == "production" and len(config["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters in production")
    if env == "production" and not config["BASE_URL"].startswith("https://"):
        raise ConfigError("BASE_URL must start with https:// in production")
    if env == "production":
        config["SESSION_COOKIE_SECURE"] = True

    url = config.get("DATABASE_URL") or ""
    if not url:
        url = "sqlite:///" + os.path.join(instance_path, "lotsa.sqlite3")
    if url.startswith("postgres://") or url.startswith("postgresql://"):
        # Heroku-style URLs: make SQLAlchemy use psycopg 3, the driver we install.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not (url.startswith("sqlite") or url.startswith("postgresql+psycopg")):
        raise ConfigError(f"DATABASE_URL must be SQLite or PostgreSQL (psycopg), got {url.split(':')[0]!r}")
    config["SQLALCHEMY_DATABASE_URI"] = url

    for key in ("SESSION_IDLE_MINUTES", "SESSION_ABSOLUTE_HOURS", "SESSION_TOUCH_SECONDS", "RECORD_RETENTION_YEARS"):
        if int(config[key]) <= 0:
            raise ConfigError(f"{key} must be a positive number")
    if config["SESSION_WARNING_SECONDS"] >= config["SESSION_IDLE_MINUTES"] * 60:
        raise ConfigError("SESSION_WARNING_SECONDS must be shorter than the idle timeout")
    if config["BABEL_DEFAULT_LOCALE"] not in config["LANGUAGES"]:
        raise ConfigError("BABEL_DEFAULT_LOCALE must be one of LANGUAGES")
    if config["SMS_GATEWAY_URL"] and not str(config["SMS_GATEWAY_URL"]).startswith(("http://", "https://")):
        raise ConfigError("SMS_GATEWAY_URL must be an http:// or https:// URL")
    if config["SMTP_SECURITY"] not in {"starttls", "ssl", "none"}:
        raise ConfigError("SMTP_SECURITY must be starttls, ssl or none")
    if config["CONTENT_AUTO_RELOAD"] in ("", None):
        config["CONTENT_AUTO_RELOAD"] = env == "development"
    elif isinstance(config["CONTENT_AUTO_RELOAD"], str):
        config["CONTENT_AUTO_RELOAD"] = config["CONTENT_AUTO_RELOAD"].lower() in {"1", "true", "yes", "on"}
    config["BABEL_TRANSLATION_DIRECTORIES"] = str(PROJECT_ROOT / "translations")
    config["TESTING"] = config.get("TESTING", env == "testing")


def _development_secret(instance_path: str) -> str:
    """Keep one random development key in instance/ so sessions survive restarts."""
    import secrets

    path = Path(instance_path) / "dev-secret-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
