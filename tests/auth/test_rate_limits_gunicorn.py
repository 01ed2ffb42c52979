"""The login and two-factor limits hold across gunicorn workers and app servers.

An outside probe against ``make run`` (several gunicorn workers, limits in
memory://) had 22 of 30 wrong passwords for one account checked within a minute
(limit 5), 30 of 30 in a spray over 30 accounts from one address (limit 10) and
28 of 30 wrong two-factor codes (limit 10): each worker counted on its own.

Here real gunicorn servers with 3 workers each (the production settings,
deploy/gunicorn.conf.py, with PROXY_FIX so that each request can say its client
address) serve a migrated SQLite file on loopback: once one server with the
default storage (``lotsa-sqlite://``, a file in instance/), once two servers A
and B on one Redis, each request going to the other server than the one before.
Four bursts of 30 attempts, 6 at a time:

- wrong passwords for one account, each from another address (per account);
- wrong passwords for 30 accounts from one address (per address: spraying);
- wrong codes for one staff account, each from another address (per account);
- wrong codes for 6 staff accounts from one address (per address).

An attempt was checked when it was not answered 429; the checked ones must be
exactly the configured limit, and the failure events in the access log (one per
password or code really checked) must say the same.

Also here: the SQLite storage counts exactly while several processes hit it at
once, and the configuration's checks on the rate-limit settings.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from http.cookies import SimpleCookie
from pathlib import Path

import pyotp
import pytest
from limits import parse_many

from tests.fixtures.plugin import TEST_SECRET, base_config, free_port
from webapp.config import DEFAULTS, ConfigError, load_config, validate_config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
WORKERS = 3
ATTEMPTS = 30
PARALLEL = 6
# Its own database number, and a key prefix of its own on top: other test runs
# and benchmarks use Redis at the same time (and the benchmarks flush /7 and /8).
REDIS_URL = "redis://127.0.0.1:6379/13"
PASSWORD = "limits-test-password-1"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SECURITY_LINE_RE = re.compile(r"\[(\d+)\] INFO lotsa\.security: security event=(login_failed|two_factor_failed)")


# --- HTTP: a browser's session cookie and CSRF token, the client address per request --------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _http(url: str, data: dict | None, cookie: str, address: str) -> tuple[int, dict, str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    headers = {"Accept": "text/html", "X-Forwarded-For": address, **({"Cookie": cookie} if cookie else {})}
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with _OPENER.open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read().decode("utf-8", "replace")


class Visitor:
    """One browser session; :meth:`attempt` does not change it, so threads may share one."""

    def __init__(self, base: str):
        self.base, self.cookie, self.token = base, "", ""

    def request(self, path: str, data: dict | None = None, *, address: str) -> int:
        payload = None if data is None else {"csrf_token": self.token, **data}
        status, headers, text = _http(self.base + path, payload, self.cookie, address)
        for header in headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie(header)
            if "lotsa_session" in jar:
                self.cookie = f"lotsa_session={jar['lotsa_session'].value}"
        if match := CSRF_RE.search(text):
            self.token = match.group(1)
        return status

    def attempt(self, base: str, path: str, data: dict, address: str) -> int:
        return _http(base + path, {"csrf_token": self.token, **data}, self.cookie, address)[0]


def _burst(jobs) -> list[int]:
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda job: job(), jobs))


# --- servers ------------------------------------------------------------------------------------------------


class Servers:
    """gunicorn app servers as child process groups; :meth:`stop` ends them and their workers."""

    def __init__(self, env: dict, work: Path, names: list[str]):
        self.env, self.work = env, work
        self.ports = {name: free_port() for name in names}
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports.values()]

    def log(self, name: str) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")

    def start(self) -> None:
        for name, port in self.ports.items():
            with open(self.work / f"{name}.log", "w") as log:
                self.processes[name] = subprocess.Popen(
                    [str(BIN / "gunicorn"), "-c", str(GUNICORN_CONF), "--workers", str(WORKERS),
                     "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "5", "webapp:create_app()"],
                    cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        for name, port in self.ports.items():
            while True:
                try:
                    if _http(f"http://127.0.0.1:{port}/healthz", None, "", "127.0.0.1")[0] == 200:
                        break
                except OSError:
                    pass
                if self.processes[name].poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"gunicorn {name} did not start:\n{self.log(name)[-3000:]}")
                time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=15)
                except ProcessLookupError:
                    process.wait(timeout=15)

    def checking_workers(self, name: str) -> set[int]:
        """The worker processes that logged a checked (failed) password or code."""
        return {int(pid) for pid, _kind in SECURITY_LINE_RE.findall(self.log(name))}


# --- the database: migrated once, a copy with its own users per test --------------------------------------


def _empty_content(folder: Path) -> dict:
    """Empty programme and form folders: the login pages need no content, and loading
    the catalogue is most of a worker's start (about 1.5 s of CPU each, 9 workers here)."""
    for name in ("modules", "forms", "media"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return {"CONTENT_ROOT": str(folder / "modules"), "FORMS_ROOT": str(folder / "forms"),
            "MEDIA_ROOT": str(folder / "media")}


@pytest.fixture(scope="module")
def template_database(tmp_path_factory) -> Path:
    """The migrations applied once (as tests.fixtures.plugin.migrate_to_head, without the content)."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db

    work = tmp_path_factory.mktemp("limits-db")
    path = work / "template.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOTSA_INSTANCE_PATH", str(work / "instance"))
        app = create_app(base_config(f"sqlite:///{path}", **_empty_content(work / "content")))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


def _seed(database_url: str, instance: Path, content: dict) -> dict:
    """Patients and clinicians (with authenticator secrets) sharing one password hash.

    The hash has argon2's cheapest parameters: a password is verified with the
    parameters in its hash, so each wrong password checked costs a millisecond
    instead of a quarter second of CPU. The limits are under test, not argon2
    (a right password is re-hashed with the real ones, as after a parameter change).
    """
    from argon2 import PasswordHasher

    from webapp import create_app
    from webapp.auth.services import create_care_unit, create_user
    from webapp.extensions import db

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOTSA_INSTANCE_PATH", str(instance))
        app = create_app(base_config(database_url, **content))
    with app.app_context():
        password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
        unit = create_care_unit("limits", "Gränsenheten")
        people = {"one": [create_user(role="patient", email="one@limits.example", full_name="One")],
                  "spray": [create_user(role="patient", email=f"spray{n}@limits.example", full_name=f"Spray {n}")
                            for n in range(ATTEMPTS)],
                  "staff": [create_user(role="clinician", email=f"staff{n}@limits.example", full_name=f"Staff {n}",
                                        units=[unit]) for n in range(7)]}
        for user in (u for group in people.values() for u in group):
            user.password_hash = password_hash
        for user in people["staff"]:
            user.totp_secret = pyotp.random_base32()
        db.session.commit()
        world = {group: [(u.id, u.email, u.totp_secret) for u in users] for group, users in people.items()}
        db.session.remove()
        db.engine.dispose()
    return world


def _failures_logged(database: Path, action: str, user_ids) -> int:
    """Security events of one kind for these users in the access log (one per password or code checked)."""
    with closing(sqlite3.connect(database)) as conn:
        (count,), = conn.execute(
            "SELECT count(*) FROM access_log WHERE action = ? AND actor_id IN (SELECT value FROM json_each(?))",
            (f"security.{action}", json.dumps([int(i) for i in user_ids]))).fetchall()
    return count


def _wrong_code(secret: str) -> str:
    totp, step = pyotp.TOTP(secret), int(time.time() // 30)
    valid = {totp.generate_otp(s) for s in range(step - 3, step + 4)}
    return next(code for code in (f"{n:06d}" for n in range(1000)) if code not in valid)


# --- the four bursts ------------------------------------------------------------------------------------------


def _passwords_one_account(bases: list[str], email: str) -> list[int]:
    visitor = Visitor(bases[0])
    visitor.request("/auth/login", address="198.18.1.1")
    data = {"email": email, "password": "wrong-password-1"}
    return _burst([lambda i=i: visitor.attempt(bases[i % len(bases)], "/auth/login", data, f"198.18.1.{10 + i}")
                   for i in range(ATTEMPTS)])


def _passwords_spray(bases: list[str], emails: list[str]) -> list[int]:
    visitor = Visitor(bases[0])
    visitor.request("/auth/login", address="198.18.2.1")
    return _burst([lambda i=i: visitor.attempt(bases[i % len(bases)], "/auth/login",
                                               {"email": emails[i], "password": "wrong-password-1"}, "198.18.2.1")
                   for i in range(ATTEMPTS)])


def _at_code_step(base: str, email: str, address: str) -> Visitor:
    """A session that has passed the password step (from its own address)."""
    visitor = Visitor(base)
    visitor.request("/auth/login", address=address)
    status = visitor.request("/auth/login", {"email": email, "password": PASSWORD}, address=address)
    assert status == 302, f"password step for {email}: {status}"
    visitor.request("/auth/two-factor", address=address)  # a new CSRF token: the step cleared the session
    return visitor


def _codes_one_account(bases: list[str], staff: tuple) -> list[int]:
    _id, email, secret = staff
    visitor = _at_code_step(bases[0], email, "198.18.5.1")
    data = {"code": _wrong_code(secret)}
    return _burst([lambda i=i: visitor.attempt(bases[i % len(bases)], "/auth/two-factor", data, f"198.18.3.{10 + i}")
                   for i in range(ATTEMPTS)])


def _codes_one_address(bases: list[str], staff: list[tuple]) -> list[int]:
    visitors = [(_at_code_step(bases[0], email, f"198.18.5.{10 + n}"), {"code": _wrong_code(secret)})
                for n, (_id, email, secret) in enumerate(staff)]
    return _burst([lambda i=i: visitors[i % len(visitors)][0].attempt(
        bases[i % len(bases)], "/auth/two-factor", visitors[i % len(visitors)][1], "198.18.4.1")
        for i in range(ATTEMPTS)])


def _allowed(config: dict, *keys: str) -> int:
    """Attempts one minute lets through: the tightest of the limits (and lock-outs) named."""
    return min(item.amount for key in keys for item in parse_many(config[key]))


def _redis_or_skip() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    finally:
        client.close()


def _forget_redis_keys(prefix: str) -> None:
    """Delete this run's keys only (never FLUSHDB: others share the server)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"*/{prefix}/*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.mark.parametrize("storage", ["default", "redis"])
def test_limits_hold_across_workers_and_servers(storage, template_database, tmp_path):
    if storage == "redis":
        _redis_or_skip()
    database = tmp_path / "lotsa.sqlite3"
    database.write_bytes(template_database.read_bytes())
    database_url = f"sqlite:///{database}"
    content = _empty_content(tmp_path / "content")
    world = _seed(database_url, tmp_path / "seed-instance", content)
    prefix = f"limits-test-{os.getpid()}-{secrets.token_hex(4)}"
    env = {key: value for key, value in os.environ.items() if key not in DEFAULTS}
    env.update({
        "LOTSA_ENV": "development", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url,
        "LOTSA_INSTANCE_PATH": str(tmp_path / "instance"), "CONTENT_AUTO_RELOAD": "false",
        "BASE_URL": "http://127.0.0.1", "SMTP_PORT": "0", "RATELIMIT_ENABLED": "true",
        "RATELIMIT_KEY_PREFIX": prefix, "PROXY_FIX": "true", **content,
    })
    if storage == "redis":
        env["RATELIMIT_STORAGE_URI"] = REDIS_URL  # else the default, which must not be memory://
    config = load_config(environ=env)
    validate_config(config, env["LOTSA_INSTANCE_PATH"])
    expected = {
        "passwords, one account": _allowed(config, "RATELIMIT_LOGIN_ACCOUNT", "RATELIMIT_LOGIN_LOCKOUT"),
        "passwords, one address": _allowed(config, "RATELIMIT_LOGIN"),
        "codes, one account": _allowed(config, "RATELIMIT_OTP_ACCOUNT", "RATELIMIT_OTP_LOCKOUT"),
        "codes, one address": _allowed(config, "RATELIMIT_OTP"),
    }
    servers = Servers(env, tmp_path, ["A", "B"] if storage == "redis" else ["A"])
    results: dict[str, list[int]] = {}
    took: dict[str, float] = {}
    try:
        servers.start()
        bursts = {
            "passwords, one account": lambda: _passwords_one_account(servers.bases, world["one"][0][1]),
            "passwords, one address": lambda: _passwords_spray(servers.bases, [e for _i, e, _s in world["spray"]]),
            "codes, one account": lambda: _codes_one_account(servers.bases, world["staff"][0]),
            "codes, one address": lambda: _codes_one_address(servers.bases, world["staff"][1:]),
        }
        for name, burst in bursts.items():
            started = time.monotonic()
            results[name] = burst()
            took[name] = time.monotonic() - started
    finally:
        servers.stop()
        if storage == "redis":
            _forget_redis_keys(prefix)

    checked = {name: statuses.count(200) for name, statuses in results.items()}
    logged = {
        "passwords, one account": _failures_logged(database, "login_failed", [world["one"][0][0]]),
        "passwords, one address": _failures_logged(database, "login_failed", [i for i, _e, _s in world["spray"]]),
        "codes, one account": _failures_logged(database, "two_factor_failed", [world["staff"][0][0]]),
        "codes, one address": _failures_logged(database, "two_factor_failed", [i for i, _e, _s in world["staff"][1:]]),
    }
    summary = ", ".join(f"{name}: {checked[name]} of {ATTEMPTS} checked in {took[name]:.1f} s "
                        f"(limit {expected[name]})" for name in results)
    print(f"\n{storage} storage, {len(servers.ports)} server(s) x {WORKERS} workers: {summary}")
    assert all(set(statuses) <= {200, 429} for statuses in results.values()), results
    assert all(seconds < 60 for seconds in took.values()), took  # so the counts are per minute
    assert checked == expected, summary
    assert logged == checked, f"failure events in the access log {logged}, answers {checked}"
    for name in servers.ports:  # the counts were shared, not one worker's: several checked attempts
        assert len(servers.checking_workers(name)) >= 2, f"only one worker of {name} checked anything"
    if storage == "default":
        assert (tmp_path / "instance" / "ratelimits.sqlite3").exists()


# --- the SQLite storage, several processes at once ---------------------------------------------------------

CHILD = r"""
import os, sys, time
from webapp.core.ratelimits import SQLiteRateLimitStorage
storage = SQLiteRateLimitStorage(sys.argv[1])
storage.get("warm-up")  # connect and create the tables before the start
print("ready", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
taken = 0
for _ in range(int(sys.argv[3])):
    storage.incr("counter", 600)
    taken += storage.acquire_entry("window", 37, 600)
print(taken, flush=True)
"""


def test_the_sqlite_storage_counts_exactly_across_processes(tmp_path):
    from webapp.core.ratelimits import SQLiteRateLimitStorage

    # Three processes (importing the app costs about a second of CPU each), started together.
    uri, go, rounds, processes = f"lotsa-sqlite://{tmp_path}/limits.sqlite3", tmp_path / "go", 150, 3
    children = [subprocess.Popen([sys.executable, "-c", CHILD, uri, str(go), str(rounds)], cwd=ROOT,
                                 stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    try:
        assert [child.stdout.readline().strip() for child in children] == ["ready"] * processes
        go.touch()  # all at once
        taken = [int(child.communicate(timeout=120)[0].strip()) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    storage = SQLiteRateLimitStorage(uri)
    assert storage.get("counter") == processes * rounds  # no increment lost
    assert sum(taken) == 37  # no place in the window given twice
    assert storage.get_moving_window("window", 37, 600)[1] == 37
    assert time.time() < storage.get_expiry("counter") <= time.time() + 600


def test_the_sqlite_storage_expires_and_clears(tmp_path, monkeypatch):
    from webapp.core.ratelimits import SQLiteRateLimitStorage

    storage = SQLiteRateLimitStorage(f"lotsa-sqlite://{tmp_path}/limits.sqlite3")
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    assert [storage.incr("k", 10) for _ in range(3)] == [1, 2, 3]
    assert storage.get_expiry("k") == pytest.approx(now + 10)
    assert storage.acquire_entry("w", 2, 10) and storage.acquire_entry("w", 2, 10)
    assert not storage.acquire_entry("w", 2, 10)
    monkeypatch.setattr(time, "time", lambda: now + 10.5)  # both windows are over
    assert storage.get("k") == 0 and storage.incr("k", 10) == 1
    assert storage.get_moving_window("w", 2, 10)[1] == 0 and storage.acquire_entry("w", 2, 10)
    storage.clear("k")
    assert storage.get("k") == 0
    assert storage.check() and storage.reset() == 1


# --- configuration -----------------------------------------------------------------------------------------


def test_the_default_storage_is_a_file_every_worker_shares(tmp_path):
    config = load_config(environ={})
    validate_config(config, str(tmp_path))
    assert config["RATELIMIT_STORAGE_URI"] == f"lotsa-sqlite://{tmp_path}/ratelimits.sqlite3"
    assert config["RATELIMIT_STRATEGY"] == "moving-window"


PRODUCTION = {"LOTSA_ENV": "production", "SECRET_KEY": "p" * 40, "BASE_URL": "https://lotsa.example"}


@pytest.mark.parametrize("settings, message", [
    ({**PRODUCTION, "RATELIMIT_STORAGE_URI": "memory://"}, "memory://"),
    ({"RATELIMIT_STORAGE_URI": "lotsa-sqlite://relative.sqlite3"}, "absolute path"),
    ({"RATELIMIT_STORAGE_URI": "sqlite:///x.sqlite3"}, "unknown storage"),
    ({"RATELIMIT_STORAGE_URI": "memcached://127.0.0.1:11211"}, "not supported by the memcached"),
    ({"RATELIMIT_STRATEGY": "token-bucket"}, "RATELIMIT_STRATEGY"),
    ({"RATELIMIT_LOGIN": "lots"}, "RATELIMIT_LOGIN must be"),
    ({"RATELIMIT_OTP_ACCOUNT": "0 per minute"}, "RATELIMIT_OTP_ACCOUNT"),
    ({"RATELIMIT_LOGIN_LOCKOUT": "10 per minute; 20 per hour"}, "RATELIMIT_LOGIN_LOCKOUT"),
    ({"RATELIMIT_KEY_PREFIX": "two words"}, "RATELIMIT_KEY_PREFIX"),
])
def test_rate_limit_settings_that_cannot_work_stop_the_start(settings, message, tmp_path):
    config = load_config(settings, environ={})
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_config(config, str(tmp_path))


def test_memory_stays_possible_when_asked_for_outside_production(tmp_path):
    config = load_config({"RATELIMIT_STORAGE_URI": "memory://"}, environ={})
    validate_config(config, str(tmp_path))
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
