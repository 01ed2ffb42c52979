"""HTTP load benchmark: gunicorn and the scheduler as in production, driven by wrk.

For one database (SQLite file or PostgreSQL) it seeds a region (bench/seed.py:
10,000 patients and enrolments, 20 care units, 60 clinicians, answers,
messages, questionnaire responses, outbox rows), starts gunicorn with
2 x cores + 1 workers and the scheduler as separate processes on loopback, logs
in real sessions (patients with a password, clinicians with password and
two-factor code) and lets wrk -- a separate load-generating process -- replay
each endpoint's requests for a fixed time at a fixed concurrency.

Every endpoint is reported with throughput and p50/p95/p99 latency beside the
trivial baseline route (/livez, measured before and after the endpoints in the
same run) and beside its peer page: bench/peer.py, a minimal Flask + SQLAlchemy
+ Jinja app served by the same gunicorn settings on the same database, asked for
a page of the same number of SQL statements and bytes as the endpoint's request
(counted by replaying it in this process), right after the endpoint's own run; writes are checked against the database (every acknowledged answer,
message and questionnaire must be stored), pages are weighed with and without
gzip, and the workers' peak memory is read from /proc.

    .venv/bin/python bench/load.py [--database sqlite|postgresql] [--seconds 10] [--concurrency 16]

``bench/run.py`` runs this for both databases plus the dispatch and catalogue
benchmarks and writes one results file; use that for the README's figures.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
BIN = Path(sys.executable).parent
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ASSET_RE = re.compile(r'(?:href|src)="(/static/[^"]+)"')
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Budgets from DESIGN.md and issue 9, checked in the report (never in tests).
BUDGETS = {"module_ratio_min": 0.60, "module_p95_ms": 50, "caseload_p95_ms": 150, "save_answer_p95_ms": 50,
           "page_kb_max": 100}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(port: int, path: str = "/livez", timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the app on port {port} did not answer {path}")


class Session:
    """A logged-in browser: cookies by name (Secure flags ignored on loopback) and the last CSRF token."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.token = ""

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        body = urllib.parse.urlencode({"csrf_token": self.token, **data}) if data is not None else None
        sent = {"Cookie": self.cookie_header, **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        raw = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        text = (gzip.decompress(raw) if response.getheader("Content-Encoding") == "gzip" else raw).decode()
        match = CSRF_RE.search(text)
        if match:
            self.token = match.group(1)
        return response.status, text, raw, dict(response.getheaders())

    def login(self, email: str, password: str, totp_secret: str | None = None) -> None:
        self.request("GET", "/auth/login")
        status, *_ = self.request("POST", "/auth/login", {"email": email, "password": password})
        if totp_secret:
            import pyotp

            self.request("GET", "/auth/two-factor")
            status, *_ = self.request("POST", "/auth/two-factor", {"code": pyotp.TOTP(totp_secret).now()})
        if status != 302:
            raise RuntimeError(f"login of {email} failed with {status}")
        # A page with a form, so the session holds a CSRF token for the posts.
        self.request("GET", "/accessibility")


@dataclass
class Endpoint:
    """One measured endpoint: its requests (one per session and target), the status it must answer."""

    name: str
    lines: list[str]
    expect: int = 200
    table: str | None = None  # a write: rows of this table must grow by the number of requests
    budget_p95_ms: float | None = None
    prepare: Callable[[], list[str]] | None = None  # makes the lines just before the run
    peer: bool = True  # measured beside the peer page of the same statements and bytes (bench/peer.py)


def line(method: str, path: str, session: Session | None = None, accept: str = "text/html",
         data: dict | None = None) -> str:
    body = urllib.parse.urlencode({"csrf_token": session.token, **data}) if data is not None and session else ""
    return "\t".join((method, path, session.cookie_header if session else "", accept, body))


def run_wrk(endpoint: Endpoint, port: int, seconds: float, concurrency: int, work: Path) -> dict:
    """One wrk run of ``endpoint``; returns wrk's figures as a dict."""
    requests, report = work / f"{endpoint.name}.requests", work / f"{endpoint.name}.json"
    requests.write_text("\n".join(endpoint.lines) + "\n", encoding="utf-8")
    threads = min(2, concurrency)
    env = {**os.environ, "LOTSA_REQUESTS": str(requests), "LOTSA_REPORT": str(report),
           "LOTSA_EXPECT": str(endpoint.expect), "LOTSA_THREADS": str(threads)}
    done = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{int(seconds)}s", "--timeout", "10s",
                           "-s", str(ROOT / "bench" / "wrk.lua"), f"http://127.0.0.1:{port}"],
                          env=env, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0 or not report.exists():
        raise RuntimeError(f"wrk failed on {endpoint.name}: {done.stdout}{done.stderr}")
    return json.loads(report.read_text())


def count_rows(app, table: str) -> int:
    from sqlalchemy import text

    from webapp.extensions import db

    with app.app_context():
        value = db.session.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one()  # nosec B608 - our names
        db.session.remove()
        return value


def worker_memory(master_pid: int) -> list[int]:
    """Peak resident memory (VmHWM, KiB) of each gunicorn worker of ``master_pid``."""
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(master_pid) and "VmHWM" in fields:
            peaks.append(int(fields["VmHWM"].split()[0]))
    return sorted(peaks)


def weigh(session: Session, path: str, assets: dict[str, tuple[int, int]]) -> dict:
    """Bytes of a page and of the static files a first visit loads, as nginx sends them.

    docs/deployment.md: nginx gzips static files but not pages (they carry a CSRF
    token and echo what was typed: BREACH), so a page's transfer is its plain
    HTML plus its static files gzipped on a first visit. The gzipped HTML is
    reported too, for what compression would save.
    """
    status, text, plain, _headers = session.request("GET", path)
    linked = sorted(set(ASSET_RE.findall(text)))
    for asset in linked:
        if asset not in assets:
            _s, _t, raw, _h = session.request("GET", asset.replace("&amp;", "&"))
            assets[asset] = (len(raw), len(gzip.compress(raw, 5)))
    return {"status": status, "html_bytes": len(plain), "html_gzip_bytes": len(gzip.compress(plain, 5)),
            "static_gzip_bytes": sum(assets[a][1] for a in linked),
            "first_visit_bytes": len(plain) + sum(assets[a][1] for a in linked)}


def weigh_in_process(app, request_line: str) -> tuple[int, int]:
    """(SQL statements, response bytes) of one request line, replayed in this process with Flask's test client.

    The peer page of an endpoint does that many statements and renders that many
    bytes; a post counts as a page with one write.
    """
    from inprocess import StatementCounter

    from webapp.extensions import db

    method, path, cookie, accept, body = request_line.split("\t")
    with app.app_context():
        counter = StatementCounter(db.engine)
        client = app.test_client()
        data = body.replace("__N__", "0") if body else None
        response = client.open(path, method=method, data=data, headers={"Cookie": cookie, "Accept": accept},
                               content_type="application/x-www-form-urlencoded" if data else None)
        size = len(response.get_data())
        from sqlalchemy import event

        event.remove(db.engine, "before_cursor_execute", counter._seen)
        db.session.remove()
    return counter.count, size


def start_peer(database: str, work: Path, url: str, workers: int, env: dict) -> tuple[subprocess.Popen, int]:
    """The peer app (bench/peer.py), filled once, served by gunicorn as Lotsa is; returns the process and port."""
    from peer import create_peer

    peer_url = f"sqlite:///{work}/peer.sqlite3" if database == "sqlite" else url
    create_peer(peer_url)
    port = free_port()
    log = open(work / "peer.log", "w")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "--chdir", str(ROOT / "bench"),
         "--workers", str(workers), "--max-requests", "0", "--bind", f"127.0.0.1:{port}",
         "--access-logfile", str(work / "peer-access.log"), "peer:app_from_environment()"],
        cwd=ROOT, env={**env, "PEER_DATABASE_URL": peer_url}, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    wait_for_http(port, "/login")
    return process, port


def settle_database(app) -> None:
    """VACUUM ANALYZE (PostgreSQL) or ANALYZE and a WAL checkpoint (SQLite) after the bulk load."""
    from webapp.extensions import db

    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if db.engine.dialect.name == "postgresql":
                conn.exec_driver_sql("VACUUM ANALYZE")
            else:
                conn.exec_driver_sql("ANALYZE")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.session.remove()


def prepare_database(kind: str, work: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{work}/bench.sqlite3"
    import psycopg

    # Another name lets two benchmarks share one server (BENCH_DATABASE_NAME).
    name = os.environ.get("BENCH_DATABASE_NAME", "lotsa_bench")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"BENCH_DATABASE_NAME must be a plain lower-case name, not {name!r}")
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def run_load(database: str = "sqlite", *, patients: int = 10_000, seconds: float = 10, concurrency: int = 16,
             keep: bool = False) -> dict:
    """Seed, serve, log in, drive every endpoint with wrk; return the figures as a dict."""
    from seed import PASSWORD, PATIENT_TOTP_SECRET, add_pending_dispatches, seed_region

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `make bench`, which installs it, or apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix=f"lotsa-bench-{database}-"))
    port = free_port()
    url = prepare_database(database, work)
    env = {**os.environ, "LOTSA_ENV": "production", "LOTSA_INSTANCE_PATH": str(work), "DATABASE_URL": url,
           "SECRET_KEY": "bench-" + "k" * 40, "BASE_URL": "https://lotsa.bench.example",
           "CONTENT_AUTO_RELOAD": "false", "SCHEDULER_INTERVAL_SECONDS": "5",
           # Rate limits would refuse a benchmark's posting speed; they are per-user and cheap.
           "RATELIMIT_ENABLED": "false"}
    subprocess.run([str(BIN / "flask"), "--app", "webapp", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    os.environ.update({k: env[k] for k in ("LOTSA_ENV", "LOTSA_INSTANCE_PATH", "DATABASE_URL", "SECRET_KEY",
                                           "BASE_URL", "CONTENT_AUTO_RELOAD", "RATELIMIT_ENABLED")})
    from webapp import create_app

    app = create_app()
    started = time.perf_counter()
    world = seed_region(app, patients=patients)
    seed_seconds = time.perf_counter() - started

    # Steady state, as in service: the scheduler has caught up with the seeded
    # region (first sweep, reminders) and the database has vacuumed after the bulk load.
    subprocess.run([str(BIN / "flask"), "--app", "webapp", "scheduler", "run", "--once"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=600)
    settle_database(app)

    workers = 2 * (os.cpu_count() or 1) + 1
    logs = {name: open(work / f"{name}.log", "w") for name in ("gunicorn", "scheduler")}
    # The production settings (deploy/gunicorn.conf.py), on a free port, the access log to a file, and
    # no recycling of workers: the baseline's 2,000 requests a second would replace every worker every
    # few seconds (1.3 s of CPU each), which a region's traffic does a few times an hour.
    gunicorn = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "--workers", str(workers),
         "--max-requests", "0", "--bind", f"127.0.0.1:{port}", "--access-logfile", str(work / "access.log"),
         "webapp:create_app()"],
        cwd=ROOT, env=env, stdout=logs["gunicorn"], stderr=subprocess.STDOUT)
    scheduler = subprocess.Popen([str(BIN / "flask"), "--app", "webapp", "scheduler", "run"], cwd=ROOT, env=env,
                                 stdout=logs["scheduler"], stderr=subprocess.STDOUT)
    peer = None
    try:
        wait_for_http(port)
        peer, peer_port = start_peer(database, work, url, workers, env)
        peer_session = Session(peer_port)
        peer_session.request("GET", "/login")
        patients_in = []
        for email, enrolment_id in world.patients[:concurrency]:
            session = Session(port)
            session.login(email, PASSWORD, PATIENT_TOTP_SECRET)
            patients_in.append((session, enrolment_id))
        clinicians_in = []
        for email, secret, unit in world.clinicians[:concurrency]:
            session = Session(port)
            session.login(email, PASSWORD, secret)
            clinicians_in.append((session, unit))
        everywhere = Session(port)
        everywhere.login(*world.all_units_clinician[:1], PASSWORD, world.all_units_clinician[1])
        units = len({unit for _e, _s, unit in world.clinicians})
        # Enrolments n + 1 with n % units + 1 == unit belong to that unit (see seed.py).
        of_unit = {u: [e for e in range(u, patients + 1, units)][:20] for u in range(1, units + 1)}

        module = f"/e/{{}}/{world.module}/{world.page}"
        endpoints = [
            Endpoint("baseline", [line("GET", "/livez")], peer=False),
            Endpoint("health check (1 query)", [line("GET", "/healthz")], peer=False),
            Endpoint("patient start page", [line("GET", "/home", s) for s, _e in patients_in]),
            Endpoint("module page", [line("GET", module.format(e), s) for s, e in patients_in],
                     budget_p95_ms=BUDGETS["module_p95_ms"]),
            Endpoint("save an answer", [line("POST", f"/e/{e}/answers/{world.block}", s, "application/json",
                                             {"text": f"Ett sparat svar {n}-__N__", "page": str(world.page)})
                                        for n, (s, e) in enumerate(patients_in)],
                     table="answer_version", budget_p95_ms=BUDGETS["save_answer_p95_ms"]),
            Endpoint("message thread", [line("GET", f"/e/{e}/messages", s) for s, e in patients_in]),
            Endpoint("post a message", [line("POST", f"/e/{e}/messages", s, data={"body": "En fråga om övningen."})
                                        for s, e in patients_in], expect=302, table="message"),
            Endpoint("caseload", [line("GET", "/clinician/", s) for s, _u in clinicians_in],
                     budget_p95_ms=BUDGETS["caseload_p95_ms"]),
            Endpoint("caseload, filtered", [line("GET", "/clinician/?flagged=1&sort=last_active", s)
                                            for s, _u in clinicians_in], budget_p95_ms=BUDGETS["caseload_p95_ms"]),
            Endpoint("caseload, searched", [line("GET", f"/clinician/?q=Patient+{u + 40:05d}", s)
                                            for s, u in clinicians_in], budget_p95_ms=BUDGETS["caseload_p95_ms"]),
            Endpoint(f"caseload, all {patients:,} enrolments", [line("GET", "/clinician/", everywhere)],
                     budget_p95_ms=BUDGETS["caseload_p95_ms"]),
            Endpoint("enrolment page", [line("GET", f"/clinician/enrolments/{e}", s)
                                        for s, u in clinicians_in for e in of_unit[u]]),
        ]
        by_enrolment = {e: s for s, e in patients_in}
        answers = {f"q{i}": "1" if i < 9 else "0" for i in range(1, 10)}
        pending: list[tuple[int, int]] = []

        def questionnaires_to_submit() -> list[str]:
            # Unanswered questionnaires, more than the run can use, so every post is a real submission.
            # Added just before their run: until then the start pages would list them all.
            pending.extend(add_pending_dispatches(app, list(by_enrolment), per_enrolment=int(60 * seconds)))
            return [line("POST", f"/e/{e}/questionnaires/{d}", by_enrolment[e], data={**answers, "action": "submit"})
                    for e, d in pending]

        endpoints.append(Endpoint("questionnaire submit", [], expect=302, table="questionnaire_response",
                                  prepare=questionnaires_to_submit))
        endpoints.append(Endpoint("baseline (again)", [line("GET", "/livez")], peer=False))

        # Pages are weighed as seeded, before the timed runs add hundreds of messages and questionnaires.
        patient, enrolment_id = patients_in[0]
        clinician, unit = clinicians_in[0]
        assets: dict[str, tuple[int, int]] = {}
        pages = {
            "patient start page": weigh(patient, "/home", assets),
            "module page": weigh(patient, module.format(enrolment_id), assets),
            "message thread": weigh(patient, f"/e/{enrolment_id}/messages", assets),
            "summary": weigh(patient, f"/e/{enrolment_id}/summary", assets),
            "caseload": weigh(clinician, "/clinician/", assets),
            f"caseload, all {patients:,} enrolments": weigh(everywhere, "/clinician/", assets),
            "enrolment page": weigh(clinician, f"/clinician/enrolments/{of_unit[unit][0]}", assets),
        }
        # Warm up: every worker has served each kind of page once before anything is timed.
        run_wrk(Endpoint("warm-up", [row for endpoint in endpoints for row in endpoint.lines[:2]], expect=0),
                port, 3, concurrency, work)
        results = []
        for endpoint in endpoints:
            if endpoint.prepare:
                endpoint.lines = endpoint.prepare()
            before = count_rows(app, endpoint.table) if endpoint.table else None
            figures = run_wrk(endpoint, port, seconds, concurrency, work)
            row = {"endpoint": endpoint.name, "path": endpoint.lines[0].split("\t")[1],
                   "requests": figures["requests"],
                   "throughput_rps": round(figures["requests"] / (figures["duration_us"] / 1e6), 1),
                   "p50_ms": figures["p50_us"] / 1000, "p95_ms": figures["p95_us"] / 1000,
                   "p99_ms": figures["p99_us"] / 1000, "max_ms": figures["max_us"] / 1000,
                   "bytes_per_response": round(figures["bytes"] / max(figures["requests"], 1)),
                   "wrong_status": figures["wrong_status"], "wrong_statuses": figures["wrong_statuses"],
                   "socket_errors": sum(figures[k] for k in ("errors_connect", "errors_read", "errors_write",
                                                              "errors_timeout"))}
            if endpoint.table:
                # wrk may cut the last requests short; every completed one must be stored.
                row["rows_stored"] = count_rows(app, endpoint.table) - before
                row["stored_all"] = row["rows_stored"] >= figures["requests"] - figures["wrong_status"]
            if endpoint.name == "questionnaire submit":
                row["ran_out_of_questionnaires"] = figures["requests"] > len(pending)
            if endpoint.budget_p95_ms:
                row["budget_p95_ms"] = endpoint.budget_p95_ms
            peer_note = ""
            if endpoint.peer:
                statements, size = weigh_in_process(app, endpoint.lines[0])
                writes = 1 if endpoint.lines[0].startswith("POST") else 0
                path = f"/page?q={statements}&b={size}&w={writes}"
                peer_figures = run_wrk(Endpoint("peer", [line("GET", path, peer_session)]), peer_port, seconds,
                                       concurrency, work)
                peer_rps = round(peer_figures["requests"] / (peer_figures["duration_us"] / 1e6), 1)
                row["peer"] = {"path": path, "statements": statements, "bytes": size, "throughput_rps": peer_rps,
                               "p95_ms": peer_figures["p95_us"] / 1000,
                               "wrong_status": peer_figures["wrong_status"]}
                row["ratio_to_peer"] = round(row["throughput_rps"] / peer_rps, 3) if peer_rps else None
                peer_note = f"   peer {peer_rps:>8.0f} req/s  p95 {row['peer']['p95_ms']:>6.1f} ms"
            results.append(row)
            print(f"  {database:<10} {endpoint.name:<34} {row['throughput_rps']:>8.0f} req/s  "
                  f"p95 {row['p95_ms']:>6.1f} ms{peer_note}", flush=True)

        baseline_rps = (results[0]["throughput_rps"] + results[-1]["throughput_rps"]) / 2
        health_rps = results[1]["throughput_rps"]
        for row in results:
            row["ratio_to_baseline"] = round(row["throughput_rps"] / baseline_rps, 3)
            row["ratio_to_health_check"] = round(row["throughput_rps"] / health_rps, 3)

        memory = worker_memory(gunicorn.pid)
    finally:
        processes = [p for p in (scheduler, gunicorn, peer) if p is not None]
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs.values():
            log.close()
        with app.app_context():
            from webapp.extensions import db

            db.session.remove()
            db.engine.dispose()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return {"database": database, "workers": workers, "concurrency": concurrency, "seconds_per_endpoint": seconds,
            "seed_seconds": round(seed_seconds, 1), "rows": world.counts, "baseline_rps": round(baseline_rps, 1),
            "endpoints": results, "pages": pages, "static_files": {k: {"bytes": v[0], "gzip_bytes": v[1]}
                                                                for k, v in assets.items()},
            "worker_peak_rss_kib": memory, "work_dir": str(work) if keep else None}


def print_load(report: dict) -> None:
    print(f"\n{report['database']}: {report['workers']} gunicorn workers, {report['concurrency']} concurrent clients, "
          f"{report['seconds_per_endpoint']} s per endpoint; seeded {report['rows']['enrolment']:,} enrolments "
          f"in {report['seed_seconds']} s")
    print(f"{'endpoint':<36}{'req/s':>8}{'x base':>8}{'x hc':>7}{'p50':>8}{'p95':>8}{'p99':>8}  ms "
          f"{'peer/s':>8}{'x peer':>7}{'peer p95':>9}   check")
    for row in report["endpoints"]:
        check = []
        if row["wrong_status"] or row["socket_errors"]:
            check.append(f"{row['wrong_status']} wrong status {row['wrong_statuses']}, "
                         f"{row['socket_errors']} socket errors")
        if "stored_all" in row:
            check.append("all stored" if row["stored_all"] else f"ONLY {row['rows_stored']} STORED")
        if "budget_p95_ms" in row:
            check.append(f"p95 budget {row['budget_p95_ms']} ms: "
                         + ("ok" if row["p95_ms"] < row["budget_p95_ms"] else "MISSED"))
        peer = row.get("peer")
        peer_columns = (f"{peer['throughput_rps']:>8.0f}{row['ratio_to_peer']:>7.2f}{peer['p95_ms']:>9.1f}" if peer
                        else f"{'-':>8}{'-':>7}{'-':>9}")
        print(f"{row['endpoint']:<36}{row['throughput_rps']:>8.0f}{row['ratio_to_baseline']:>8.2f}"
              f"{row['ratio_to_health_check']:>7.2f}{row['p50_ms']:>8.1f}{row['p95_ms']:>8.1f}{row['p99_ms']:>8.1f}"
              f"    {peer_columns}   {'; '.join(check)}")
    print(f"{'page (KB)':<36}{'html':>9}{'static gz':>11}{'1st visit':>11}{'html gz':>9}")
    for name, page in report["pages"].items():
        print(f"{name:<36}{page['html_bytes'] / 1024:>9.1f}{page['static_gzip_bytes'] / 1024:>11.1f}"
              f"{page['first_visit_bytes'] / 1024:>11.1f}{page['html_gzip_bytes'] / 1024:>9.1f}")
    memory = report["worker_peak_rss_kib"]
    if memory:
        print(f"peak memory per worker: {min(memory) / 1024:.0f}–{max(memory) / 1024:.0f} MiB ({len(memory)} workers)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, database)")
    args = parser.parse_args()
    report = run_load(args.database, patients=args.patients, seconds=args.seconds, concurrency=args.concurrency,
                      keep=args.keep)
    print_load(report)
    if report["work_dir"]:
        print(f"work folder kept: {report['work_dir']}")


if __name__ == "__main__":
    main()
