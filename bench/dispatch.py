"""Benchmark: notification dispatch rate to a null channel.

Queues 10,000 due items and lets the scheduler's dispatch deliver them all to
the null channel (rendering every text, claiming in batches, recording each
result). Side by side, the baseline renders the same texts with no database.

    .venv/bin/python bench/dispatch.py [--items 10000] [--database-url URL]

Budget (DESIGN.md): at least 2,000 deliveries per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(items: int = 10_000, database_url: str = "") -> dict:
    """Queue ``items`` due rows, dispatch them all to the null channel; return the figures."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from webapp import create_app
    from webapp.core.db import utcnow
    from webapp.extensions import db
    from webapp.notifications.models import OutboxItem
    from webapp.notifications.services import Channels, dispatch_all_due, render

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LOTSA_INSTANCE_PATH"] = tmp
        url = database_url or f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app({"LOTSA_ENV": "testing", "SECRET_KEY": "bench" * 8, "DATABASE_URL": url})
        with app.app_context():
            if database_url:
                from tests.fixtures.plugin import reset_postgres_schema

                reset_postgres_schema(url)
            upgrade()
            now = utcnow()
            rows = [{"kind": "new_message", "channel": "null", "address": "", "locale": ("sv", "en", "ar")[n % 3],
                     "payload": '{"url": "https://lotsa.example/auth/login"}', "status": "pending", "attempts": 0,
                     "due_at": now, "created_at": now} for n in range(items)]
            db.session.execute(insert(OutboxItem), rows)
            db.session.commit()
            sample = list(db.session.scalars(db.select(OutboxItem)))
            db.session.expunge_all()
            started = time.perf_counter()
            for item in sample:
                render(item)
            baseline = time.perf_counter() - started
            started = time.perf_counter()
            delivered = dispatch_all_due(Channels())
            elapsed = time.perf_counter() - started
            assert delivered == items, delivered
            db.session.remove()
            db.engine.dispose()
    report = {"benchmark": "dispatch", "date": date.today().isoformat(),
              "database": "postgresql" if database_url else "sqlite",
              "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
              "items": items, "render_only_per_second": round(items / baseline),
              "dispatch_per_second": round(items / elapsed),
              "ratio_to_render_only": round(baseline / elapsed, 3), "budget_per_second": 2000}
    report["within_budget"] = report["dispatch_per_second"] >= 2000
    return report


def print_report(report: dict) -> None:
    print(f"{report['items']} items on {report['database']}")
    print(f"baseline (render only):  {report['render_only_per_second']:>8} /s")
    print(f"dispatch (claim+render+record): {report['dispatch_per_second']:>8} /s  "
          f"({report['ratio_to_render_only']:.2f}x baseline) — "
          f"{'within' if report['within_budget'] else 'BELOW'} the 2,000/s budget")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    report = run(args.items, args.database_url)
    print_report(report)
    out = ROOT / "bench" / "results" / f"{report['date']}-dispatch-{report['database']}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
