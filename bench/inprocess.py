"""The work of one request, in process: milliseconds and SQL statements per page.

    .venv/bin/python bench/inprocess.py [--database sqlite|postgresql] [--patients 10000] [--repeat 300]
    .venv/bin/python bench/inprocess.py --profile "module page"     # cProfile of one page, top 30

HTTP throughput on a shared two-core machine moves by a third from run to run;
the cost of a request measured inside the process, with Flask's test client and
no network, is far steadier. Each page is requested ``repeat`` times after a
warm-up and reported as the median and 90th percentile of wall time, with the
number of SQL statements the request sent (every statement the engine executed,
COMMIT not included). The median CPU time of this process is reported too: on a
machine shared with other work it moves far less than wall time (on PostgreSQL
it leaves out the server's own work). Beside Lotsa's pages, the same run measures:

- ``/livez``, Lotsa's trivial route: the floor of Flask + Lotsa's request hooks;
- the peer (bench/peer.py): a minimal Flask + SQLAlchemy + Jinja page doing the
  same number of statements and rendering the same number of bytes as each
  Lotsa page, on the same database. Lotsa's page divided by its peer is the
  cost of everything Lotsa adds (access checks, audit, translations, content).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
META_CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass
class Page:
    name: str
    client: object
    method: str
    path: str
    expect: int = 200
    data: dict | None = None
    json: bool = False


def token_of(html: str) -> str:
    match = CSRF_RE.search(html) or META_CSRF_RE.search(html)
    return match.group(1) if match else ""


def log_in(app, email: str, password: str, secret: str | None):
    """A test client with a logged-in session (password, then the app code)."""
    import pyotp

    client = app.test_client()
    html = client.get("/auth/login").get_data(as_text=True)
    response = client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token_of(html)})
    if secret:
        html = client.get("/auth/two-factor").get_data(as_text=True)
        response = client.post("/auth/two-factor", data={"code": pyotp.TOTP(secret).now(),
                                                         "csrf_token": token_of(html)})
    if response.status_code != 302:
        raise RuntimeError(f"login of {email} failed with {response.status_code}")
    return client


class StatementCounter:
    """Counts the statements an engine executes (COMMIT and ROLLBACK are not statements here)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args, **_kwargs) -> None:
        self.count += 1


def measure(page: Page, counter: StatementCounter, repeat: int) -> dict:
    """Median and p90 ms of ``repeat`` requests after a warm-up; statements and bytes of the last."""
    def once():
        if page.method == "GET":
            return page.client.get(page.path)
        data = dict(page.data or {})
        if page.json:
            return page.client.post(page.path, data=data, headers={"Accept": "application/json",
                                                                    "X-CSRFToken": data.pop("csrf_token", "")})
        return page.client.post(page.path, data=data)

    for _ in range(max(10, repeat // 10)):
        response = once()
        if response.status_code != page.expect:
            raise RuntimeError(f"{page.name}: {page.method} {page.path} gave {response.status_code}")
    times = []
    cpu = []
    statements = 0
    size = 0
    for _ in range(repeat):
        before = counter.count
        started, started_cpu = time.perf_counter(), time.process_time()
        response = once()
        body = response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        statements = counter.count - before
        size = len(body)
    times.sort()
    return {"name": page.name, "path": page.path, "median_ms": round(statistics.median(times), 3),
            "p90_ms": round(times[int(len(times) * 0.9) - 1], 3), "cpu_median_ms": round(statistics.median(cpu), 3),
            "statements": statements, "bytes": size}


def pages_of(app, world) -> list[Page]:
    """Lotsa's hot pages, each requested by a logged-in user as in service."""
    from seed import PASSWORD, PATIENT_TOTP_SECRET

    email, enrolment_id = world.patients[0]
    patient = log_in(app, email, PASSWORD, PATIENT_TOTP_SECRET)
    clinician_email, secret, unit = world.clinicians[0]
    clinician = log_in(app, clinician_email, PASSWORD, secret)
    everywhere = log_in(app, world.all_units_clinician[0], PASSWORD, world.all_units_clinician[1])
    anonymous = app.test_client()
    module = f"/e/{enrolment_id}/{world.module}/{world.page}"
    token = token_of(patient.get(module).get_data(as_text=True))
    # Enrolment n + 1 belongs to unit n % units + 1 (bench/seed.py): enrolment ``unit`` is in the unit.
    return [
        Page("baseline /livez", anonymous, "GET", "/livez"),
        Page("login page", anonymous, "GET", "/auth/login"),
        Page("patient start page", patient, "GET", "/home"),
        Page("module page", patient, "GET", module),
        Page("save an answer", patient, "POST", f"/e/{enrolment_id}/answers/{world.block}", json=True,
             data={"text": "Ett sparat svar", "page": str(world.page), "csrf_token": token}),
        Page("message thread", patient, "GET", f"/e/{enrolment_id}/messages"),
        Page("caseload (one unit)", clinician, "GET", "/clinician/"),
        Page("caseload, all units", everywhere, "GET", "/clinician/"),
        Page("enrolment page", clinician, "GET", f"/clinician/enrolments/{unit}"),
    ]


def run(database: str = "sqlite", *, patients: int = 10_000, repeat: int = 300, profile: str | None = None,
        callers: str | None = None) -> dict:
    """Seed a region, measure every page and its peer; return the figures."""
    from load import prepare_database, settle_database
    from seed import seed_region

    work = Path(tempfile.mkdtemp(prefix=f"lotsa-inprocess-{database}-"))
    url = prepare_database(database, work)
    os.environ.update({"LOTSA_ENV": "production", "LOTSA_INSTANCE_PATH": str(work), "DATABASE_URL": url,
                       "SECRET_KEY": "bench-" + "k" * 40, "BASE_URL": "https://lotsa.bench.example",
                       "CONTENT_AUTO_RELOAD": "false", "RATELIMIT_ENABLED": "false"})
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db

    app = create_app()
    # The test client is plain HTTP; production cookies are Secure-only.
    app.config.update(SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False, PREFERRED_URL_SCHEME="http")
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    world = seed_region(app, patients=patients)
    settle_database(app)
    pages = pages_of(app, world)

    from peer import create_peer

    peer_url = url.replace("bench.sqlite3", "peer.sqlite3") if database == "sqlite" else url
    peer = create_peer(peer_url)
    peer_client = peer.test_client()
    peer_client.get("/login")

    results = []
    with app.app_context():
        counter = StatementCounter(db.engine)
    if profile:
        page = next(p for p in pages if p.name == profile)
        profiler = cProfile.Profile()
        profiler.enable()
        measure(page, counter, repeat)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        if callers:
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_callers(callers)
        print(out.getvalue())
        return {}
    with peer.app_context():
        peer_counter = StatementCounter(peer.extensions["sqlalchemy"].engine)
    for page in pages:
        row = measure(page, counter, repeat)
        writes = 1 if page.method == "POST" else 0
        peer_page = Page("peer", peer_client, "GET", f"/page?q={row['statements']}&b={row['bytes']}&w={writes}")
        peer_row = measure(peer_page, peer_counter, repeat) if page.name != "baseline /livez" else None
        row["peer_median_ms"] = peer_row["median_ms"] if peer_row else None
        row["peer_statements"] = peer_row["statements"] if peer_row else None
        row["x_peer"] = round(row["median_ms"] / peer_row["median_ms"], 2) if peer_row else None
        results.append(row)
    livez = results[0]["median_ms"]
    for row in results:
        row["x_livez"] = round(row["median_ms"] / livez, 1)
    return {"database": database, "patients": patients, "repeat": repeat, "pages": results}


def print_report(report: dict) -> None:
    print(f"\nIn-process cost per request, {report['database']}, {report['patients']:,} enrolments, "
          f"median of {report['repeat']} (ms); peer = minimal Flask+SQLAlchemy+Jinja page, same statements and bytes")
    print(f"{'page':38} {'median':>8} {'p90':>8} {'cpu':>7} {'SQL':>4} {'bytes':>7} {'peer':>7} {'x peer':>7} "
          f"{'x livez':>8}")
    for row in report["pages"]:
        peer = f"{row['peer_median_ms']:.2f}" if row["peer_median_ms"] is not None else "-"
        x_peer = f"{row['x_peer']:.2f}" if row["x_peer"] is not None else "-"
        print(f"{row['name']:38} {row['median_ms']:8.2f} {row['p90_ms']:8.2f} {row['cpu_median_ms']:7.2f} "
              f"{row['statements']:4d} "
              f"{row['bytes']:7d} {peer:>7} {x_peer:>7} {row['x_livez']:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--profile", help="profile one page by name instead of measuring all")
    parser.add_argument("--callers", help="with --profile: who calls the functions matching this pattern")
    args = parser.parse_args()
    report = run(args.database, patients=args.patients, repeat=args.repeat, profile=args.profile,
                 callers=args.callers)
    if report:
        print_report(report)


if __name__ == "__main__":
    main()
