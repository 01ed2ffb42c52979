"""Scale-out check: two app servers and two schedulers against one PostgreSQL.

    .venv/bin/python bench/scaleout.py [--patients 40] [--clinicians 4] [--rounds 6] [--workers 2]

It creates its own database (``lotsa_scaleout`` on 127.0.0.1:5432, dropped
first), applies the migrations, seeds a care unit with clinicians and opted-in
patients (bench/_common.py, shared with bench/soak.py), flushes one Redis
database for Flask-Limiter, and starts as separate processes on loopback: an
SMTP sink, two gunicorn servers A and B with the production settings
(deploy/gunicorn.conf.py; same DATABASE_URL and SECRET_KEY, RATELIMIT_STORAGE_URI
on that Redis database, PROXY_FIX as behind nginx) and two
``flask --app webapp scheduler run``. Then it shows:

(d) /healthz answers on both servers, and both schedulers beat;
(a) sessions: a patient logs in on A and the same cookie works on B; logout on
    B revokes the session, so the old cookie no longer works on A; a clinician
    does the password step on A and the two-factor step on B;
(b) rate limits are shared: failed logins alternating between A and B from one
    client address are refused after RATELIMIT_LOGIN attempts in total (and
    after RATELIMIT_LOGIN_ACCOUNT for one account from many addresses). With
    memory:// each of the 2 x workers processes would count on its own;
(c) deliveries: patients and clinicians exchange messages through both servers
    (every request goes to the other server than the one before, as behind a
    round-robin balancer); each message for an opted-in patient or the
    responsible clinician writes an e-mail outbox row. Once both schedulers
    have drained the outbox, every row must have arrived at the SMTP sink
    exactly once (the Message-ID is derived from the row id), nobody may be
    told twice about one waiting event (two requests queueing the same
    "new message" notice at the same moment), and both schedulers must have
    delivered some (outbox_item.claimed_by).

Afterwards: no server errors, security events in both servers' logs, no query
string in their access logs (a clinician searched the caseload by name), and
the peak number of database connections (pg_stat_activity).

Prints a pass/fail table, writes bench/results/scaleout-<date>.json and exits
non-zero on any failure. tests/scaleout/ runs a trimmed version through
:func:`run`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # imported by tests/scaleout/
    sys.path.append(str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402  (the path above finds bench/_common.py when imported by a test)
    BIN,
    PASSWORD,
    ROOT,
    SMTP_SINK,
    Client,
    Stats,
    create_database,
    drop_database,
    free_port,
    seed,
    wait_for_port,
)

from webapp.notifications.services import COALESCED_VALUES  # noqa: E402

GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
SECURITY_RE = re.compile(r"lotsa\.security: security event=(\w+)")
QUERY_IN_ACCESS_LOG_RE = re.compile(r'^\S+ \[[^\]]+\] "(?:GET|POST|HEAD) [^"]*\?', re.MULTILINE)
DROPPED_RE = re.compile(r"outbox: (\d+) notice\(s\) dropped")
ACCESS_LINE_RE = re.compile(r'^\S+ \[[^\]]+\] "(?:GET|POST|HEAD) /', re.MULTILINE)
SESSION_COOKIE = "lotsa_session"


@dataclass
class Options:
    """What to run; the defaults are the benchmark's, the test passes smaller numbers."""

    admin_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    database: str = "lotsa_scaleout"
    redis_url: str = "redis://127.0.0.1:6379/7"
    patients: int = 40
    clinicians: int = 4
    rounds: int = 6
    round_seconds: float = 4.0
    workers: int = 2  # gunicorn workers per app server
    scheduler_interval: int = 1
    outbox_batch: int = 10
    drain_seconds: float = 60.0
    drop_database_after: bool = False
    work: Path = field(default_factory=lambda: Path("/tmp") / f"lotsa-scaleout-{os.getpid()}")

    @property
    def database_url(self) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=self.database)
        return url.render_as_string(hide_password=False)

    @property
    def libpq_url(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.admin_url).set(database=self.database).render_as_string(hide_password=False)


@dataclass
class Check:
    part: str
    name: str
    ok: bool
    detail: str


def redis_reachable(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


class Cluster:
    """The SMTP sink, app servers A and B and two schedulers as child processes.

    Each child leads its own process group, so stopping one also ends what it
    started (gunicorn's workers); :meth:`stop` is safe to call at any point.
    """

    def __init__(self, options: Options, env: dict, work: Path):
        self.options, self.env, self.work = options, env, work
        self.smtp_port = int(env["SMTP_PORT"])
        self.ports = {"A": free_port(), "B": free_port()}
        self.received = work / "received.txt"
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, object] = {}
        self.ready_seconds: dict[str, float] = {}

    def base(self, server: str) -> str:
        return f"http://127.0.0.1:{self.ports[server]}"

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = self.logs[name] = open(self.work / f"{name}.log", "w")
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def start(self) -> None:
        self.received.touch()
        self._start("smtp", [sys.executable, "-c", SMTP_SINK, str(self.smtp_port), str(self.received)])
        for server, port in self.ports.items():
            # The production settings (deploy/gunicorn.conf.py), with this run's address and workers.
            self._start(f"app-{server}", [
                str(BIN / "gunicorn"), "-c", str(GUNICORN_CONF), "--workers", str(self.options.workers),
                "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "5", "webapp:create_app()"])
        for n in ("1", "2"):
            self._start(f"scheduler-{n}", [str(BIN / "flask"), "--app", "webapp", "scheduler", "run"])
        started = time.time()
        wait_for_port(self.smtp_port)
        # gunicorn listens before its workers have loaded the app: wait for a real answer.
        for server in self.ports:
            self.ready_seconds[server] = round(self._wait_healthy(server, started + 90) - started, 1)
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited at start with {process.returncode}; see {self.work}/{name}.log")

    def _wait_healthy(self, server: str, deadline: float) -> float:
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.base(server) + "/healthz", timeout=10) as response:
                    if response.status == 200:
                        return time.time()
            except (urllib.error.URLError, OSError):
                pass
            if self.processes[f"app-{server}"].poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"app server {server} did not become healthy; see {self.work}/app-{server}.log")

    def scheduler_pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items() if name.startswith("scheduler")}

    def stop(self) -> None:
        for name in sorted(self.processes, key=lambda n: n == "smtp"):  # the SMTP sink last
            process = self.processes[name]
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=15)
                except ProcessLookupError:
                    process.wait(timeout=15)
        for log in self.logs.values():
            log.close()
        self.processes.clear()
        self.logs.clear()

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self, name: str) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")

    def requests_served(self, server: str) -> int:
        """Lines in the server's access log (one per request)."""
        return len(ACCESS_LINE_RE.findall(self.log(f"app-{server}")))


class ConnectionSampler(threading.Thread):
    """Samples how many connections the app's processes hold to the database."""

    def __init__(self, options: Options, every: float = 0.25):
        super().__init__(daemon=True)
        self.options, self.every = options, every
        self.stop = threading.Event()
        self.peak = 0

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.options.libpq_url, autocommit=True) as conn:
            for _ in range(int(600 / self.every)):  # at most 10 minutes
                if self.stop.is_set():
                    return
                (count,), = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()").fetchall()
                self.peak = max(self.peak, count)
                self.stop.wait(self.every)


def query(options: Options, sql: str, *params) -> list[tuple]:
    import psycopg

    with psycopg.connect(options.libpq_url) as conn:
        return conn.execute(sql, params or None).fetchall()


# --- (d) health -------------------------------------------------------------------------------------------


def check_health(cluster: Cluster, stats: Stats, options: Options, when: str = "") -> list[Check]:
    checks = []
    for server in ("A", "B"):
        client = Client(cluster.base(server), stats)
        started = time.perf_counter()
        status, text = client.request("/healthz", accept="application/json")
        ms = (time.perf_counter() - started) * 1000
        try:
            body = json.loads(text)
        except ValueError:
            body = {}
        checks.append(Check("d", f"/healthz on {server}{when}", status == 200 and body == {"status": "ok", "database": "ok"},
                            f"{status} {json.dumps(body)} in {ms:.0f} ms"))
    # Both schedulers have written their heartbeat row (worker = host:pid).
    deadline = time.time() + 20
    pids = cluster.scheduler_pids()
    seen: set[int] = set()
    while time.time() < deadline:
        seen = {int(worker.rsplit(":", 1)[1]) for (worker,) in query(options, "SELECT worker FROM scheduler_heartbeat")}
        if set(pids.values()) <= seen:
            break
        time.sleep(0.5)
    beating = sorted(name for name, pid in pids.items() if pid in seen)
    checks.append(Check("d", "both schedulers beat", len(beating) == 2, f"heartbeat rows from {', '.join(beating)}"))
    return checks


# --- (a) sessions -----------------------------------------------------------------------------------------


def check_sessions(cluster: Cluster, stats: Stats, world: dict) -> list[Check]:
    a, b = cluster.base("A"), cluster.base("B")
    checks = []
    email, enrolment_id = world["patients"][0]
    patient = Client(a, stats, headers={"X-Forwarded-For": "198.51.100.10"})
    logged_in = patient.login(email)
    cookie = patient.cookie(SESSION_COOKIE)
    on_a = patient.request("/home")[0]
    on_b = patient.request("/home", base=b)[0]
    thread_b = patient.request(f"/e/{enrolment_id}/messages", base=b)[0]
    checks.append(Check("a", "patient logs in on A, same cookie works on B",
                        logged_in and on_a == 200 and on_b == 200 and thread_b == 200,
                        f"login on A {'302' if logged_in else 'failed'}; /home on A {on_a}, on B {on_b}; "
                        f"messages on B {thread_b}"))
    # Logout on B (its CSRF token came from a page B served), then the copied old cookie on A.
    patient.request("/home", base=b)
    logout = patient.request("/auth/logout", {}, base=b)[0]
    replay = Client(a, stats, headers={"X-Forwarded-For": "198.51.100.11", "Cookie": f"{SESSION_COOKIE}={cookie}"})
    after = replay.request("/home")[0]
    refused = after == 302 and "/auth/login" in replay.last_location
    checks.append(Check("a", "logout on B revokes the session on A", logout == 302 and refused,
                        f"logout on B {logout}; old cookie on A: {after} to {replay.last_location or '-'}"))

    # Staff: password step on A, two-factor step on B, then pages on both.
    import pyotp

    staff_email, secret, _ids = world["clinicians"][0]
    staff = Client(a, stats, headers={"X-Forwarded-For": "198.51.100.12"})
    staff.request("/auth/login")
    step1 = staff.request("/auth/login", {"email": staff_email, "password": PASSWORD})[0]
    staff.request("/auth/two-factor", base=b)
    step2 = staff.request("/auth/two-factor", {"code": pyotp.TOTP(secret).now()}, base=b)[0]
    # A search by name, as clinicians do: the name must not reach the access logs.
    caseload_a = staff.request("/clinician/?q=Patient+1")[0]
    caseload_b = staff.request("/clinician/?q=Patient+1", base=b)[0]
    checks.append(Check("a", "clinician: password on A, code on B, caseload on both",
                        (step1, step2, caseload_a, caseload_b) == (302, 302, 200, 200),
                        f"password step on A {step1}, code on B {step2}, caseload A {caseload_a} B {caseload_b}"))
    world["used_totp_step"] = int(time.time() // 30)
    return checks


# --- (b) rate limits --------------------------------------------------------------------------------------


def _failed_logins(cluster: Cluster, stats: Stats, attempts: int, same_account: str | None) -> list[tuple[str, int]]:
    """Wrong passwords, alternating A and B; one client address unless ``same_account`` is given."""
    results = []
    client = Client(cluster.base("A"), stats, headers={"X-Forwarded-For": "203.0.113.7"})
    client.request("/auth/login")
    for i in range(attempts):
        server = "AB"[i % 2]
        if same_account:
            client.headers["X-Forwarded-For"] = f"203.0.113.{100 + i}"
        email = same_account or f"nobody{i}@scaleout.example"
        status, _ = client.request("/auth/login", {"email": email, "password": "wrong-password-1"},
                                   base=cluster.base(server))
        results.append((server, status))
    return results


def check_rate_limits(cluster: Cluster, stats: Stats, options: Options, env: dict, world: dict) -> list[Check]:
    from limits import parse

    from webapp.config import load_config

    config = load_config(environ=env)
    checks = []
    for key, account in (("RATELIMIT_LOGIN", None), ("RATELIMIT_LOGIN_ACCOUNT", world["patients"][-1][0])):
        limit = parse(config[key])
        flush_redis(options.redis_url)
        results = _failed_logins(cluster, stats, limit.amount + 3, account)
        allowed = [r for r in results if r[1] == 200]
        refused = [r for r in results if r[1] == 429]
        ok = ([s for _srv, s in results] == [200] * limit.amount + [429] * 3
              and {srv for srv, _s in refused} == {"A", "B"})
        who = "one account from many addresses" if account else "one address, a new account name each time"
        checks.append(Check("b", f"{key} = {config[key]!r} shared by A and B", ok,
                            f"{who}: {len(allowed)} answered (A {sum(s == 'A' for s, _ in allowed)}, "
                            f"B {sum(s == 'B' for s, _ in allowed)}), then {len(refused)} refused with 429 on "
                            f"{'/'.join(sorted({s for s, _ in refused}))}; per-process memory:// would allow up "
                            f"to {limit.amount * 2 * options.workers}"))
    flush_redis(options.redis_url)
    return checks


# --- (c) deliveries ---------------------------------------------------------------------------------------


def _patient(cluster, stats, n, email, enrolment_id, rounds, start, options, acknowledged, lock):
    bases = [cluster.base("A"), cluster.base("B")]
    client = Client(bases[n % 2], stats, headers={"X-Forwarded-For": f"10.1.{n // 250}.{n % 250 + 1}"})
    if not client.login(email):
        return
    for r in range(rounds):
        _wait_until(start + r * options.round_seconds + random.uniform(0, options.round_seconds / 2))
        # The page from one server, the POST (with that page's CSRF token) to the other.
        client.request(f"/e/{enrolment_id}/messages", base=bases[(n + r) % 2])
        token = f"scaleout-p{n}-r{r}-{random.getrandbits(32):08x}"
        status, _ = client.request(f"/e/{enrolment_id}/messages", {"body": token}, base=bases[(n + r + 1) % 2])
        if status == 302:
            with lock:
                acknowledged.add(token)


def _clinician(cluster, stats, n, email, secret, enrolment_ids, rounds, start, options, acknowledged, lock, code):
    bases = [cluster.base("A"), cluster.base("B")]
    client = Client(bases[n % 2], stats, headers={"X-Forwarded-For": f"10.2.0.{n + 1}"})
    if not client.login(email, secret, code=code):
        return
    i = 0
    for r in range(rounds):
        _wait_until(start + r * options.round_seconds + random.uniform(0, options.round_seconds / 4))
        for enrolment_id in enrolment_ids:
            i += 1
            client.request(f"/clinician/enrolments/{enrolment_id}/messages", base=bases[i % 2])
            token = f"scaleout-c{n}-r{r}-{enrolment_id}-{random.getrandbits(32):08x}"
            status, _ = client.request(f"/clinician/enrolments/{enrolment_id}/messages", {"body": token},
                                       base=bases[(i + 1) % 2])
            if status == 302:
                with lock:
                    acknowledged.add(token)


def _wait_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(min(delay, 60))


def check_deliveries(cluster: Cluster, stats: Stats, options: Options, world: dict) -> tuple[list[Check], dict]:
    import pyotp

    acknowledged: set[str] = set()
    lock = threading.Lock()
    start = time.time() + 2
    # Clinician 0 used the current two-factor step in (a); a step is accepted once.
    used = world.get("used_totp_step", 0)
    threads = [threading.Thread(target=_patient, args=(cluster, stats, n, email, enrolment_id, options.rounds, start,
                                                       options, acknowledged, lock), daemon=True)
               for n, (email, enrolment_id) in enumerate(world["patients"])]
    for n, (email, secret, ids) in enumerate(world["clinicians"]):
        step = int(time.time() // 30)
        code = pyotp.TOTP(secret).generate_otp(step + 1 if step <= used else step) if n == 0 else None
        threads.append(threading.Thread(target=_clinician, args=(cluster, stats, n, email, secret, ids, options.rounds,
                                                                 start, options, acknowledged, lock, code),
                                        daemon=True))
    load_started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=options.rounds * options.round_seconds + 120)
    load_seconds = time.time() - load_started

    drain_started = time.time()
    deadline = drain_started + options.drain_seconds
    while time.time() < deadline:
        (waiting,), = query(options, "SELECT count(*) FROM outbox_item WHERE channel = 'email' "
                                     "AND status IN ('pending', 'sending')")
        if not waiting:
            break
        time.sleep(0.5)
    drain_seconds = time.time() - drain_started

    rows = query(options, "SELECT id, status, claimed_by FROM outbox_item WHERE channel = 'email'")
    expected = {row_id for row_id, _status, _by in rows}
    statuses: dict[str, int] = {}
    for _id, status, _by in rows:
        statuses[status] = statuses.get(status, 0) + 1
    # The sink writes a line before it acknowledges, and the row is marked sent after that.
    delivered: list[int] = []
    for _ in range(20):
        lines = [m.strip() for m in cluster.received.read_text().splitlines() if "lotsa-outbox-" in m]
        delivered = [int(m.split("lotsa-outbox-")[1].split("@")[0]) for m in lines]
        if set(delivered) >= expected:
            break
        time.sleep(0.25)
    by_pid = {pid: name for name, pid in cluster.scheduler_pids().items()}
    per_scheduler = {name: 0 for name in by_pid.values()}
    for _id, status, claimed_by in rows:
        if status == "sent" and claimed_by:
            name = by_pid.get(int(claimed_by.rsplit(":", 1)[1]), "other")
            per_scheduler[name] = per_scheduler.get(name, 0) + 1
    found = {body for (body,) in query(options, "SELECT body FROM message WHERE body LIKE 'scaleout-%'")}
    kinds = dict(query(options, "SELECT kind, count(*) FROM outbox_item WHERE channel = 'email' GROUP BY kind"))

    # A person told twice about one waiting event: a notice created while another
    # of the same kind to the same person was still waiting (not yet claimed).
    (told_twice,), = query(options, """
        SELECT count(*) FROM outbox_item later JOIN outbox_item earlier
          ON earlier.user_id = later.user_id AND earlier.kind = later.kind AND earlier.channel = later.channel
         AND earlier.id <> later.id
        WHERE later.channel = 'email' AND later.kind = ANY(%s)
          AND later.created_at >= earlier.created_at AND later.created_at < earlier.claimed_at""",
                           list(COALESCED_VALUES))
    dropped = {name: sum(int(n) for n in DROPPED_RE.findall((cluster.work / f"{name}.log").read_text(errors="replace")))
               for name in by_pid.values()}

    duplicated = len(delivered) - len(set(delivered))
    lost = len(expected - set(delivered))
    unexpected = len(set(delivered) - expected)
    figures = {
        "messages_acknowledged": len(acknowledged),
        "messages_found": len(acknowledged & found),
        "notifications_expected": len(expected),
        "notifications_by_kind": kinds,
        "notifications_delivered": len(set(delivered) & expected),
        "notifications_duplicated": duplicated,
        "notifications_lost": lost,
        "notifications_unexpected": unexpected,
        "outbox_statuses": statuses,
        "delivered_per_scheduler": per_scheduler,
        "concurrent_notices_dropped_per_scheduler": dropped,
        "people_told_twice_about_one_event": told_twice,
        "load_seconds": round(load_seconds, 1),
        "drain_seconds_after_load": round(drain_seconds, 1),
    }
    checks = [
        Check("c", "every acknowledged message is in the database",
              bool(acknowledged) and found >= acknowledged,
              f"{len(acknowledged & found)} of {len(acknowledged)} found"),
        Check("c", "every e-mail notification delivered exactly once",
              bool(expected) and duplicated == 0 and lost == 0 and unexpected == 0 and statuses.get("sent") == len(expected),
              f"{len(expected)} outbox rows, {len(set(delivered) & expected)} delivered, {duplicated} duplicated, "
              f"{lost} lost; statuses {statuses}"),
        Check("c", "nobody told twice about one waiting event", told_twice == 0,
              f"{told_twice} pairs; {sum(dropped.values())} notice(s) queued at the same moment by two requests "
              f"dropped by the schedulers"),
        Check("c", "both schedulers delivered", all(per_scheduler.get(name, 0) > 0 for name in by_pid.values()),
              ", ".join(f"{name} {count}" for name, count in sorted(per_scheduler.items()))),
    ]
    return checks, figures


# --- the whole run ----------------------------------------------------------------------------------------


def environment_for(options: Options, smtp_port: int, instance: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": options.database_url,
        # One key for every app server: the cookie session (session id, CSRF
        # token, pending two-factor step) is signed with it.
        "SECRET_KEY": "scaleout-" + "k" * 40,
        "LOTSA_ENV": "development",  # production would mark cookies Secure: this runs over plain HTTP
        "LOTSA_INSTANCE_PATH": str(instance),
        "CONTENT_AUTO_RELOAD": "false",
        "BASE_URL": "http://127.0.0.1:8000",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "RATELIMIT_ENABLED": "true",
        "RATELIMIT_STORAGE_URI": options.redis_url,
        # Clinicians answer every patient each round; the per-user message limit is not under test.
        "RATELIMIT_MESSAGES": "600 per minute",
        # Behind nginx: client addresses come from X-Forwarded-For (the clients here send one each).
        "PROXY_FIX": "true",
        "SCHEDULER_INTERVAL_SECONDS": str(options.scheduler_interval),
        "OUTBOX_BATCH_SIZE": str(options.outbox_batch),
    }


def run(options: Options) -> dict:
    """Set up, run every part, stop every process; return the checks and figures."""
    started = time.time()
    work = options.work
    work.mkdir(parents=True, exist_ok=True)
    if not redis_reachable(options.redis_url):
        raise RuntimeError(f"Redis at {options.redis_url} is unreachable")
    create_database(options.admin_url, options.database)
    smtp_port = free_port()
    env = environment_for(options, smtp_port, work / "instance")
    migrate = subprocess.run([str(BIN / "flask"), "--app", "webapp", "db", "upgrade"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    if migrate.returncode:
        raise RuntimeError(f"db upgrade failed:\n{migrate.stdout}\n{migrate.stderr}")
    world = seed({**env, "RATELIMIT_STORAGE_URI": "memory://"}, options.patients, options.clinicians)
    flush_redis(options.redis_url)
    setup_seconds = time.time() - started

    stats = Stats()
    checks: list[Check] = []
    figures: dict = {}
    cluster = Cluster(options, env, work)
    sampler = ConnectionSampler(options)
    try:
        with cluster:
            sampler.start()
            checks += check_health(cluster, stats, options)
            checks += check_sessions(cluster, stats, world)
            checks += check_rate_limits(cluster, stats, options, env, world)
            delivery_checks, figures = check_deliveries(cluster, stats, options, world)
            checks += delivery_checks
            checks += check_health(cluster, stats, options, when=" after the load")[:2]
        served = {server: cluster.requests_served(server) for server in ("A", "B")}
        figures["app_server_ready_seconds"] = cluster.ready_seconds
        events = {server: SECURITY_RE.findall(cluster.log(f"app-{server}")) for server in ("A", "B")}
        leaked = [server for server in ("A", "B") if QUERY_IN_ACCESS_LOG_RE.search(cluster.log(f"app-{server}"))]
        figures["security_events_logged"] = {server: len(found) for server, found in events.items()}
    finally:
        sampler.stop.set()
        if sampler.is_alive():
            sampler.join(timeout=10)
        flush_redis(options.redis_url)
        if options.drop_database_after:
            drop_database(options.admin_url, options.database)
    checks.append(Check("all", "no server errors, no failed connections",
                        stats.server_errors == 0 and stats.client_failures == 0,
                        f"{stats.requests} requests ({served['A']} served by A, {served['B']} by B), "
                        f"{stats.server_errors} 5xx, {stats.client_failures} connection failures"))
    checks.append(Check("all", "both servers served requests", min(served.values()) > 0,
                        f"A {served['A']}, B {served['B']}"))
    kinds = {server: sorted(set(found)) for server, found in events.items()}
    checks.append(Check("all", "security events in both servers' logs",
                        all({"login", "login_failed"} <= set(k) for k in kinds.values()) and "logout" in kinds["B"],
                        "; ".join(f"{server}: {len(events[server])} ({', '.join(kinds[server])})" for server in kinds)))
    checks.append(Check("all", "no query string in the access logs", not leaked,
                        "caseload searched by name on both; no access-log line has a query" if not leaked else f"query strings on {', '.join(leaked)}"))
    figures["database_connections_peak"] = sampler.peak
    return {
        "date": date.today().isoformat(),
        "ok": all(c.ok for c in checks),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "setup": {"app_servers": 2, "gunicorn_workers_per_server": options.workers, "schedulers": 2,
                  "database": "PostgreSQL", "rate_limit_storage": "redis", "patients": options.patients,
                  "clinicians": options.clinicians, "rounds": options.rounds,
                  "scheduler_interval_seconds": options.scheduler_interval, "outbox_batch_size": options.outbox_batch},
        "checks": [c.__dict__ for c in checks],
        "requests": stats.requests,
        "status_counts": dict(sorted(stats.by_status.items())),
        "requests_per_server": served,
        **figures,
        "setup_seconds": round(setup_seconds, 1),
        "total_seconds": round(time.time() - started, 1),
        "logs": str(work),
    }


def print_table(result: dict) -> None:
    width = max(len(c["name"]) for c in result["checks"])
    print(f"{'':3} {'check':<{width}}  result  detail")
    for c in result["checks"]:
        print(f"({c['part']:<3}) {c['name']:<{width}}  {'PASS' if c['ok'] else 'FAIL':<6}  {c['detail']}")
    print()
    for key in ("app_server_ready_seconds", "database_connections_peak", "security_events_logged",
                "notifications_expected", "notifications_delivered",
                "notifications_duplicated", "notifications_lost", "people_told_twice_about_one_event",
                "concurrent_notices_dropped_per_scheduler", "delivered_per_scheduler", "requests_per_server",
                "load_seconds", "drain_seconds_after_load", "total_seconds"):
        if key in result:
            print(f"{key:<42}  {result[key]}")
    print(f"\n{'PASS' if result['ok'] else 'FAIL'}: {sum(c['ok'] for c in result['checks'])} of "
          f"{len(result['checks'])} checks passed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Options()
    parser.add_argument("--patients", type=int, default=defaults.patients)
    parser.add_argument("--clinicians", type=int, default=defaults.clinicians)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--workers", type=int, default=defaults.workers, help="gunicorn workers per app server")
    parser.add_argument("--admin-url", default=defaults.admin_url)
    parser.add_argument("--database", default=defaults.database)
    parser.add_argument("--redis-url", default=defaults.redis_url)
    args = parser.parse_args()
    options = Options(admin_url=args.admin_url, database=args.database, redis_url=args.redis_url,
                      patients=args.patients, clinicians=args.clinicians, rounds=args.rounds, workers=args.workers)
    result = run(options)
    out = ROOT / "bench" / "results" / f"scaleout-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"\nWritten to {out.relative_to(ROOT)}; process logs in {result['logs']}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
