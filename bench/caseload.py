"""Benchmark: the clinician caseload with 10,000 enrolments.

Seeds a fresh database (SQLite by default, or --database-url for PostgreSQL)
with 10,000 patients and enrolments across 20 care units and 60 clinicians,
then requests the caseload (plain, searched and flagged) side by side with a
trivial baseline route (/healthz) through the same app, and reports p50/p95
latency, the ratio to the baseline, and queries per request.

    .venv/bin/python bench/caseload.py [--enrolments 10000] [--requests 200]

Budget (DESIGN.md): caseload p95 under 150 ms with 10,000 enrolments.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def seed(app, enrolments: int) -> int:
    """Bulk-insert units, clinicians, patients, enrolments and progress; return a clinician id."""
    from sqlalchemy import insert

    from webapp.auth.models import CareUnit, Membership, User
    from webapp.core.db import utcnow
    from webapp.core.identity import luhn_check_digit
    from webapp.extensions import db
    from webapp.programme.models import Enrolment, ModuleProgress

    rng = random.Random(42)
    now = utcnow()
    with app.app_context():
        db.session.execute(insert(CareUnit), [{"id": u, "code": f"unit-{u}", "name": f"Vårdenhet {u}", "created_at": now}
                                             for u in range(1, 21)])
        clinicians = [{"id": c, "role": "clinician", "email": f"c{c}@bench.example", "full_name": f"Behandlare {c}",
                       "locale": "sv", "totp_last_step": 0, "is_active_account": True, "failed_login_count": 0,
                       "created_at": now} for c in range(1, 61)]
        db.session.execute(insert(User), clinicians)
        db.session.execute(insert(Membership), [{"user_id": c, "care_unit_id": (c - 1) % 20 + 1, "created_at": now}
                                               for c in range(1, 61)])
        patients, rows, progress = [], [], []
        for n in range(enrolments):
            pid = 1000 + n
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(25000))
            body = f"{born:%y%m%d}{980 + n % 20:03d}"
            patients.append({"id": pid, "role": "patient", "email": f"p{n}@bench.example",
                             "full_name": f"Patient {n:05d}", "locale": "sv",
                             "personal_number": f"{born:%Y%m%d}{980 + n % 20:03d}{luhn_check_digit(body)}",
                             "totp_last_step": 0, "is_active_account": True, "failed_login_count": 0, "created_at": now})
            started = now - timedelta(days=rng.randrange(400))
            unit = n % 20 + 1
            rows.append({"id": n + 1, "patient_id": pid, "programme_id": "pain-school", "care_unit_id": unit,
                         "responsible_clinician_id": unit, "status": rng.choice(["active"] * 8 + ["maintenance", "closed"]),
                         "recommended_days": 365, "welcome_text": "", "created_at": started, "started_at": started,
                         "last_active_at": now - timedelta(days=rng.randrange(60))})
            for m in range(rng.randrange(4)):
                progress.append({"enrolment_id": n + 1, "module_id": f"m{m}", "pages_seen_mask": 7, "last_page": 3,
                                 "seconds_spent": 600, "first_opened_at": started, "last_opened_at": started,
                                 "completed_at": started + timedelta(days=7)})
        # Personal numbers must be unique; the seeded ones may collide, so keep the first.
        seen = set()
        for p in patients:
            if p["personal_number"] in seen:
                p["personal_number"] = None
            seen.add(p["personal_number"])
        db.session.execute(insert(User), patients)
        db.session.execute(insert(Enrolment), rows)
        if progress:
            db.session.execute(insert(ModuleProgress), progress)
        db.session.commit()
    return 1


def measure(client, path: str, count: int, counter) -> dict:
    samples, queries = [], []
    for _ in range(count):
        before = counter[0]
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        queries.append(counter[0] - before)
        assert response.status_code == 200, (path, response.status_code)
    samples.sort()
    return {"path": path, "requests": count, "p50_ms": statistics.median(samples),
            "p95_ms": samples[int(len(samples) * 0.95) - 1], "queries_per_request": max(queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enrolments", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default="", help="empty: a fresh SQLite file")
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import event

    from tests.fixtures.plugin import Auth, IsolatedClient
    from webapp import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        os.environ["LOTSA_INSTANCE_PATH"] = tmp
        app = create_app({"LOTSA_ENV": "testing", "SECRET_KEY": "bench" * 8, "DATABASE_URL": url,
                          "RATELIMIT_ENABLED": False})
        app.test_client_class = IsolatedClient
        with app.app_context():
            if args.database_url:
                from tests.fixtures.plugin import reset_postgres_schema

                reset_postgres_schema(url)
            upgrade()
        started = time.perf_counter()
        clinician_id = seed(app, args.enrolments)
        seed_seconds = time.perf_counter() - started
        with app.app_context():
            from webapp.auth.models import User
            from webapp.auth.services import hash_password, new_totp_secret
            from webapp.extensions import db

            clinician = db.session.get(User, clinician_id)
            clinician.password_hash = hash_password("bench password")
            clinician.totp_secret = new_totp_secret()
            db.session.commit()
            counter = [0]
            event.listen(db.engine, "before_cursor_execute", lambda *a: counter.__setitem__(0, counter[0] + 1))
            client = app.test_client()
            Auth(client, db).login(clinician, "bench password")
            results = [measure(client, path, args.requests, counter) for path in
                       ("/healthz", "/clinician/", "/clinician/?q=Patient%2000042", "/clinician/?flagged=1",
                        "/clinician/?sort=last_active&page=3")]
            db.session.remove()
            db.engine.dispose()
    baseline = results[0]
    for row in results:
        row["ratio_p50_to_baseline"] = row["p50_ms"] / baseline["p50_ms"]
    report = {"benchmark": "caseload", "date": date.today().isoformat(),
              "database": "postgresql" if args.database_url else "sqlite",
              "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
              "enrolments": args.enrolments, "seed_seconds": round(seed_seconds, 1), "results": results,
              "budget_p95_ms": 150,
              "within_budget": all(r["p95_ms"] < 150 for r in results[1:])}
    print(f"{report['enrolments']} enrolments on {report['database']} (seeded in {seed_seconds:.1f} s)")
    print(f"{'path':<38}{'p50 ms':>9}{'p95 ms':>9}{'x base':>8}{'queries':>9}")
    for row in results:
        print(f"{row['path']:<38}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['ratio_p50_to_baseline']:>8.1f}"
              f"{row['queries_per_request']:>9}")
    print("within the 150 ms p95 budget" if report["within_budget"] else "OVER the 150 ms p95 budget")
    out = ROOT / "bench" / "results" / f"{report['date']}-caseload-{report['database']}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
