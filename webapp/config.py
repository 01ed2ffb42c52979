"""Configuration: defaults with a comment per key, environment overrides, validation.

Every key can be overridden by an environment variable of the same name (values
are parsed as JSON-ish scalars: ``true``/``false``, integers, or plain strings).
``create_app(config)`` applies overrides in this order: defaults, environment,
the ``config`` mapping passed in (tests use the last one).
"""

from __future__ import annotations

import os
import re
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
    # PostgreSQL only (SQLite ignores these five). Seconds to wait for a new
    # connection, handshake and login included (libpq's connect_timeout; less
    # than 2 counts as 2). Also the limit for the pool's liveness check (pre-ping)
    # of a kept connection, so a restarted or vanished server costs at most this
    # twice before a request gets the outage page.
    "DATABASE_CONNECT_TIMEOUT_SECONDS": 5,
    # Milliseconds a statement may run before PostgreSQL cancels it
    # (statement_timeout; 0 = no limit). Pages take well under a second; a runaway
    # query should end long before gunicorn's 30 s worker timeout.
    "DATABASE_STATEMENT_TIMEOUT_MS": 10000,
    # PostgreSQL's just-in-time compilation of expensive statements: off, as it
    # costs seconds of compiling for statements that run in milliseconds here.
    "DATABASE_JIT": False,
    # Seconds the app waits for any answer from PostgreSQL before it gives the
    # connection up (0 = wait for ever). statement_timeout is enforced by the
    # server and cannot help when the server is frozen or the network is gone;
    # this limit is kept by the app. Longer than the statement timeout, so that a
    # slow query is cancelled by the server first and its connection stays usable.
    "DATABASE_RESPONSE_TIMEOUT_SECONDS": 15,
    # Seconds a request waits for a free pooled connection (only threaded workers
    # ever wait: a sync worker holds one connection).
    "DATABASE_POOL_TIMEOUT_SECONDS": 10,
    # The pool pings a kept PostgreSQL connection at checkout (SELECT 1, one round
    # trip) only when the server has sent it something since it was handed back (a
    # restart's goodbye, a closed socket) or when it has sat unused this many
    # seconds; a busy worker's connection, handed back milliseconds ago, is not.
    "DATABASE_PING_IDLE_SECONDS": 10,
    # /healthz's own limit in seconds for its SELECT 1 (connecting included, at
    # least 2 s when it has to connect): a monitor gets a 503 quickly instead of
    # a hung request when the database is down or frozen.
    "HEALTHZ_TIMEOUT_SECONDS": 2,
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
    # --- e-ID login through OpenID Connect (docs/authentication.md) ---------------
    # Names of the configured identity providers, comma separated (e.g.
    # "eid,siths"); empty: local login only. Each name NAME is set up by
    # environment variables OIDC_<NAME>_AUDIENCE ("patient" or "staff"),
    # _ISSUER, _METADATA_URL (default: the issuer's /.well-known/openid-configuration),
    # _CLIENT_ID, _CLIENT_SECRET or _PRIVATE_KEY_FILE (private_key_jwt),
    # _SCOPES (default "openid profile") and _ACR_VALUES (space separated).
    # Tests pass OIDC_CLIENTS, a {name: {audience, issuer, ...}} mapping, directly.
    "OIDC_PROVIDERS": [],
    "OIDC_CLIENTS": {},
    # Claim names: the OIDC Sweden ones by default; a broker that uses others sets these.
    "OIDC_PERSONAL_NUMBER_CLAIM": "https://id.oidc.se/claim/personalIdentityNumber",
    "OIDC_PREVIOUS_COORDINATION_NUMBER_CLAIM": "https://id.oidc.se/claim/previousCoordinationNumber",
    "OIDC_HSA_ID_CLAIM": "https://id.oidc.se/claim/employeeHsaId",
    # Seconds the provider's and Lotsa's clocks may disagree when an ID token's times are checked.
    "OIDC_CLOCK_SKEW_SECONDS": 60,
    # Seconds Lotsa waits for the provider's discovery, keys and token endpoints.
    "OIDC_HTTP_TIMEOUT_SECONDS": 10,
    # Sensitive actions (exports, erasure, roles, one's own e-mail or factors)
    # need the person to have logged in or re-authenticated this recently.
    "FRESH_AUTH_MINUTES": 10,
    # Days an invitation link stays valid.
    "INVITATION_DAYS": 14,
    # Minutes a password-reset link stays valid.
    "RESET_MINUTES": 60,
    # Shortest password we accept (NIST 800-63B suggests at least 8; we ask 10).
    # Bandit B105: a setting name, not a password.
    "PASSWORD_MIN_LENGTH": 10,  # nosec B105
    # Where the rate limits and lock-outs are counted. "lotsa-sqlite://" (or empty):
    # a SQLite file in instance/ that every worker on this host shares
    # (lotsa-sqlite:///absolute/path.sqlite3 for another file). With several app
    # servers: redis://127.0.0.1:6379/0. memory:// counts in each worker process
    # on its own (N workers let N times the limit through): tests only, refused
    # in production.
    "RATELIMIT_STORAGE_URI": "lotsa-sqlite://",
    # If that storage cannot be reached, count in each process's memory until it
    # is back, instead of failing every login with a server error.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    # "moving-window": at most N in any period, also across the end of one (a
    # "fixed-window" lets N at the end of a minute and N more at the start of the
    # next). Also "fixed-window"; the storage must support the one chosen.
    "RATELIMIT_STRATEGY": "moving-window",
    # Put before every key, so several installations (or test runs) can share
    # one Redis. Letters, digits, "-", "_" and "." only.
    "RATELIMIT_KEY_PREFIX": "lotsa",
    # Login attempts allowed per client address (spraying many accounts) and per
    # account name (from any number of addresses). Limits take "N per period",
    # several separated by ";".
    "RATELIMIT_LOGIN": "10 per minute",
    "RATELIMIT_LOGIN_ACCOUNT": "5 per minute",
    # Two-factor code attempts per client address and per staff account.
    "RATELIMIT_OTP": "10 per minute",
    "RATELIMIT_OTP_ACCOUNT": "5 per minute",
    # Lock-out: after this many failed passwords for one account name (known or
    # not, so it tells nobody which accounts exist) within the period, that name
    # may not log in, even with the right password, until the period has passed
    # since the last failure counted. One "N per period" each.
    "RATELIMIT_LOGIN_LOCKOUT": "10 per 15 minutes",
    # The same for wrong two-factor codes of one staff account (a code has six
    # digits, so fewer guesses are allowed than for a password).
    "RATELIMIT_OTP_LOCKOUT": "5 per 15 minutes",
    # Messages a user may send per minute (stops floods, not conversations).
    "RATELIMIT_MESSAGES": "20 per minute",
    # Password-reset requests per client address.
    "RATELIMIT_RESET": "5 per 15 minutes",
    # Turn rate limiting off entirely (tests that are not about limits).
    "RATELIMIT_ENABLED": True,
    # Interface languages: Swedish is the default; Arabic and Persian are written right to left.
    "LANGUAGES": ["sv", "en", "ar", "fa"],
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
    # Items claimed per sweep.
    "OUTBOX_BATCH_SIZE": 200,
    # A claim is a lease: the scheduler renews it every third of this while it
    # delivers the batch; one not renewed for this many seconds (its scheduler
    # crashed) is taken over by another scheduler. A single delivery must finish
    # within two thirds of it (SMTP and SMS time out after 10 s per step).
    "OUTBOX_CLAIM_TIMEOUT_SECONDS": 45,
    # Give up on an item after this many failed deliveries (it is kept as failed).
    "OUTBOX_MAX_ATTEMPTS": 8,
    # Safety alerts: an answer that hit a safety rule and that no clinician has
    # acknowledged within this many working hours (weekdays 08-17, Stockholm
    # time) is also told to every clinician of the care unit who opted in.
    "SAFETY_ESCALATION_WORKING_HOURS": 4,
    # The caseload's "behind schedule" filter: a module has been open this many
    # days and is still not done.
    "BEHIND_SCHEDULE_DAYS": 14,
    # Where programmes, media files and questionnaire definitions are read from.
    "CONTENT_ROOT": str(PROJECT_ROOT / "content" / "modules"),
    "MEDIA_ROOT": str(PROJECT_ROOT / "media"),
    "FORMS_ROOT": str(PROJECT_ROOT / "content" / "forms"),
    # Re-read content when files change (at most once a second). Empty: on in development.
    "CONTENT_AUTO_RELOAD": "",
    # How often (seconds) a worker asks the database for a new content release; 0 turns
    # the watch off. Empty: every 2 s, off in tests (they start it themselves).
    "CONTENT_RELEASE_CHECK_SECONDS": "",
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
    # What someone typed into a form when their session had ended is kept (encrypted,
    # for that browser only) this long, for them to send after logging in again.
    "DRAFT_MINUTES": 120,
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
    _database_timeouts(config, url)
    if int(config["OUTBOX_CLAIM_TIMEOUT_SECONDS"]) < 30:
        # Less would let another scheduler take over an item that is slow to send, and send it twice.
        raise ConfigError("OUTBOX_CLAIM_TIMEOUT_SECONDS must be at least 30")
    _rate_limits(config, instance_path)
    _oidc_clients(config)

    for key in ("SESSION_IDLE_MINUTES", "SESSION_ABSOLUTE_HOURS", "SESSION_TOUCH_SECONDS", "RECORD_RETENTION_YEARS",
                "DRAFT_MINUTES", "SAFETY_ESCALATION_WORKING_HOURS", "BEHIND_SCHEDULE_DAYS"):
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


def _database_timeouts(config: dict[str, Any], url: str) -> None:
    """Check the database time limits and turn them into SQLAlchemy engine options.

    ``hide_parameters`` on every engine: a failed statement's error (and so its
    traceback in the log) then shows the SQL without the values, which may be a
    patient's message or answer. SQLite keeps its other defaults (its lock wait
    is SQLITE_BUSY_TIMEOUT_MS); the rest is for PostgreSQL. The limit on waiting
    for an answer is applied by ``webapp.core.db.configure_postgres``, which
    reads DATABASE_RESPONSE_TIMEOUT_SECONDS and DATABASE_CONNECT_TIMEOUT_SECONDS
    itself (libpq has no such setting).
    """
    for key in ("DATABASE_CONNECT_TIMEOUT_SECONDS", "DATABASE_STATEMENT_TIMEOUT_MS",
                "DATABASE_RESPONSE_TIMEOUT_SECONDS", "DATABASE_POOL_TIMEOUT_SECONDS", "DATABASE_PING_IDLE_SECONDS",
                "HEALTHZ_TIMEOUT_SECONDS"):
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{key} must be a whole number, 0 or more")
    for key in ("DATABASE_CONNECT_TIMEOUT_SECONDS", "DATABASE_POOL_TIMEOUT_SECONDS", "HEALTHZ_TIMEOUT_SECONDS"):
        if config[key] == 0:
            raise ConfigError(f"{key} must be at least 1 second")
    statement_ms, response = config["DATABASE_STATEMENT_TIMEOUT_MS"], config["DATABASE_RESPONSE_TIMEOUT_SECONDS"]
    if statement_ms and response and response * 1000 <= statement_ms:
        raise ConfigError("DATABASE_RESPONSE_TIMEOUT_SECONDS must be longer than DATABASE_STATEMENT_TIMEOUT_MS, "
                          "so that PostgreSQL cancels a slow statement before the app gives up its connection")
    options: dict[str, Any] = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("hide_parameters", True)
    if url.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        connect_args = {
            "connect_timeout": config["DATABASE_CONNECT_TIMEOUT_SECONDS"],
            # TCP keepalives notice a server host or network that has gone away
            # while a connection sits in the pool (after about 30 + 3 x 10 s).
            "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
            **options.pop("connect_args", {}),
        }
        if response:
            # The kernel drops a connection whose sent data stays unacknowledged
            # this long (a lost network), instead of retransmitting for ~15 minutes.
            connect_args.setdefault("tcp_user_timeout", response * 1000)
        # Keep options already given in DATABASE_URL (?options=...), add ours.
        given = make_url(url).query.get("options") or connect_args.get("options") or ""
        ours = [given if isinstance(given, str) else " ".join(given)]
        if not config.get("DATABASE_JIT"):
            # PostgreSQL compiles a statement whose estimated cost passes jit_above_cost,
            # which a caseload of 10,000 enrolments does: compiling took 5 of its 6 s on a
            # busy two-core host, for a statement that runs in tens of ms. An app of short
            # statements gains nothing from JIT (PostgreSQL's docs say as much).
            ours.append("-c jit=off")
        if statement_ms:
            ours.append(f"-c statement_timeout={statement_ms}")
        if " ".join(ours).strip():
            connect_args["options"] = " ".join(ours).strip()
        # Pre-ping: a kept connection that died (a database restart, a failover)
        # is noticed and replaced at checkout, so no request fails because of it.
        options.setdefault("pool_pre_ping", True)
        options.setdefault("pool_timeout", config["DATABASE_POOL_TIMEOUT_SECONDS"])
        options["connect_args"] = connect_args
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options


#: Settings holding one or more limits ("N per period; M per period").
RATE_LIMIT_KEYS = ("RATELIMIT_LOGIN", "RATELIMIT_LOGIN_ACCOUNT", "RATELIMIT_OTP", "RATELIMIT_OTP_ACCOUNT",
                   "RATELIMIT_MESSAGES", "RATELIMIT_RESET")
#: Settings holding exactly one limit: the lock-outs.
LOCKOUT_KEYS = ("RATELIMIT_LOGIN_LOCKOUT", "RATELIMIT_OTP_LOCKOUT")


def _rate_limits(config: dict[str, Any], instance_path: str) -> None:
    """Check the rate-limit settings and fill in the default storage's file.

    Flask-Limiter would only fail at the first request (a bad limit string) or
    with a bare NotImplementedError (a strategy the storage lacks); this says
    which setting is wrong at start-up.
    """
    from limits import parse_many
    from limits.storage import SCHEMES, MovingWindowSupport, SlidingWindowCounterSupport
    from limits.strategies import STRATEGIES

    import webapp.core.ratelimits  # noqa: F401  (defining its storage class registers lotsa-sqlite://)

    uri = str(config["RATELIMIT_STORAGE_URI"] or "").strip()
    if uri in ("", "lotsa-sqlite://"):
        uri = "lotsa-sqlite://" + os.path.join(os.path.abspath(instance_path), "ratelimits.sqlite3")
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme not in SCHEMES or scheme.startswith("async+"):
        known = ", ".join(sorted(s for s in SCHEMES if not s.startswith("async+")))
        raise ConfigError(f"RATELIMIT_STORAGE_URI: unknown storage {scheme or uri!r}; use one of {known}")
    if scheme == "lotsa-sqlite" and not uri.split("://", 1)[1].startswith("/"):
        raise ConfigError("RATELIMIT_STORAGE_URI: lotsa-sqlite:// takes an absolute path (lotsa-sqlite:///srv/x.sqlite3)")
    if scheme == "memory" and config["LOTSA_ENV"] == "production":
        raise ConfigError("RATELIMIT_STORAGE_URI=memory:// counts in each gunicorn worker on its own, so the login "
                          "limits do not hold; use lotsa-sqlite:// (one server) or redis://host:6379/0")
    config["RATELIMIT_STORAGE_URI"] = uri

    strategy = config["RATELIMIT_STRATEGY"]
    if strategy not in STRATEGIES:
        raise ConfigError(f"RATELIMIT_STRATEGY must be one of {', '.join(sorted(STRATEGIES))}, not {strategy!r}")
    needs = {"moving-window": MovingWindowSupport, "sliding-window-counter": SlidingWindowCounterSupport}.get(strategy)
    if needs and not issubclass(SCHEMES[scheme], needs):
        raise ConfigError(f"RATELIMIT_STRATEGY={strategy} is not supported by the {scheme}:// storage")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{0,64}", str(config["RATELIMIT_KEY_PREFIX"])):
        raise ConfigError("RATELIMIT_KEY_PREFIX may hold only letters, digits, '-', '_' and '.' (at most 64)")

    for key in RATE_LIMIT_KEYS + LOCKOUT_KEYS:
        try:
            items = parse_many(str(config[key]))
        except ValueError:
            items = []
        if not items or any(item.amount < 1 for item in items) or (key in LOCKOUT_KEYS and len(items) > 1):
            example = "10 per 15 minutes" if key in LOCKOUT_KEYS else "5 per minute"
            raise ConfigError(f"{key} must be a limit like {example!r}, not {config[key]!r}")


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


OIDC_AUDIENCES = ("patient", "staff")


def _oidc_clients(config: dict[str, Any], environ=None) -> None:
    """Build OIDC_CLIENTS from OIDC_<NAME>_* variables for each name in OIDC_PROVIDERS; check them."""
    environ = os.environ if environ is None else environ
    clients = dict(config.get("OIDC_CLIENTS") or {})
    for name in config.get("OIDC_PROVIDERS") or []:
        if name in clients:
            continue
        prefix = f"OIDC_{name.upper()}_"
        clients[name] = {key[len(prefix):].lower(): value for key, value in environ.items() if key.startswith(prefix)}
    for name, settings in clients.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
            raise ConfigError(f"OIDC provider name {name!r}: lower-case letters, digits and _ only")
        where = f"OIDC provider {name!r}"
        if settings.get("audience") not in OIDC_AUDIENCES:
            raise ConfigError(f"{where}: OIDC_{name.upper()}_AUDIENCE must be patient or staff")
        for key in ("issuer", "client_id"):
            if not settings.get(key):
                raise ConfigError(f"{where}: OIDC_{name.upper()}_{key.upper()} is not set")
        if not (settings.get("client_secret") or settings.get("private_key_file")):
            raise ConfigError(f"{where}: set OIDC_{name.upper()}_CLIENT_SECRET or _PRIVATE_KEY_FILE")
        if config["LOTSA_ENV"] == "production" and not str(settings["issuer"]).startswith("https://"):
            raise ConfigError(f"{where}: the issuer must be an https:// URL in production")
        settings.setdefault("metadata_url", str(settings["issuer"]).rstrip("/") + "/.well-known/openid-configuration")
        settings.setdefault("scopes", "openid profile")
    config["OIDC_CLIENTS"] = clients
