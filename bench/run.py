"""The benchmark suite: one command, one table, one results file.

    make bench                      # installs wrk if needed, then runs this
    .venv/bin/python bench/run.py [--seconds 10] [--databases sqlite,postgresql] [--quick]

Runs, in this order and on this machine:
- content catalogue load, 100 modules x 3 languages (bench/catalogue.py), first,
  while the process is as fresh as an app server starting up;
- the in-process cost of each hot page (bench/inprocess.py) on SQLite and on
  PostgreSQL: median ms and SQL statements per request, beside the peer page
  (bench/peer.py, a minimal Flask + SQLAlchemy + Jinja page of the same
  statements and bytes) measured in the same process;
- the HTTP load benchmark (bench/load.py) on SQLite and on PostgreSQL: gunicorn
  (2 x cores + 1 workers) and the scheduler serving 10,000 enrolments, wrk
  driving 16 logged-in clients per endpoint, each endpoint's throughput and
  p50/p95/p99 beside the trivial baseline route served in the same run and
  beside its peer page, served by the same gunicorn settings;
- notification dispatch to the null channel (bench/dispatch.py), both databases.

It prints every table, checks the budgets of DESIGN.md and issue 9 in the
report (not in tests: machines are noisy), and writes everything, with the
machine described, to bench/results/<date>.json. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import catalogue  # noqa: E402
import dispatch  # noqa: E402
import inprocess  # noqa: E402
import load  # noqa: E402

# Issue 25's targets for the in-process figures and the module page's share of the baseline.
TARGETS = {"module_ms": 3.0, "module_statements": 4, "start_ms": 4.0, "module_ratio_min": 0.25}


def describe_machine() -> dict:
    """What the figures were measured on."""
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    memory_kib = 0
    try:
        memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                              if line.startswith("MemTotal")))
    except (OSError, StopIteration):
        pass

    def version(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return ""

    return {"cpus": os.cpu_count(), "cpu_model": cpu, "memory_gib": round(memory_kib / 1024 / 1024, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "postgresql": version("psql", "--version"), "wrk": version("wrk", "--version"),
            "gunicorn_workers": 2 * (os.cpu_count() or 1) + 1}


def budgets(loads: list[dict], dispatches: list[dict], catalogue_result: dict,
            in_process: list[dict] | None = None) -> list[dict]:
    """Each budget with the measured figure and whether it was met."""
    checks = []
    for report in in_process or []:
        db = report["database"]
        rows = {row["name"]: row for row in report["pages"]}
        module, start, login = rows["module page"], rows["patient start page"], rows["login page"]
        checks.append({"budget": f"{db}: in-process module page <= {TARGETS['module_ms']:g} ms",
                       "measured": f"{module['median_ms']:.2f} ms", "met": module["median_ms"] <= TARGETS["module_ms"]})
        checks.append({"budget": f"{db}: in-process module page <= {TARGETS['module_statements']} SQL statements",
                       "measured": str(module["statements"]),
                       "met": module["statements"] <= TARGETS["module_statements"]})
        checks.append({"budget": f"{db}: in-process start page <= {TARGETS['start_ms']:g} ms",
                       "measured": f"{start['median_ms']:.2f} ms", "met": start["median_ms"] <= TARGETS["start_ms"]})
        checks.append({"budget": f"{db}: in-process login page <= the minimal-stack page",
                       "measured": f"{login['median_ms']:.2f} ms vs {login['peer_median_ms']:.2f} ms",
                       "met": login["median_ms"] <= login["peer_median_ms"]})
    for report in loads:
        db = report["database"]
        rows = {row["endpoint"]: row for row in report["endpoints"]}
        module = rows["module page"]
        checks.append({"budget": f"{db}: module page throughput >= {TARGETS['module_ratio_min']:.2f} x baseline",
                       "measured": f"{module['ratio_to_baseline']:.3f} x",
                       "met": module["ratio_to_baseline"] >= TARGETS["module_ratio_min"]})
        checks.append({"budget": f"{db}: module page throughput >= 60 % of baseline (DESIGN.md)",
                       "measured": f"{module['ratio_to_baseline'] * 100:.0f} %",
                       "met": module["ratio_to_baseline"] >= load.BUDGETS["module_ratio_min"]})
        for name, row in rows.items():
            if "budget_p95_ms" in row:
                checks.append({"budget": f"{db}: {name} p95 < {row['budget_p95_ms']:g} ms",
                               "measured": f"{row['p95_ms']:.1f} ms", "met": row["p95_ms"] < row["budget_p95_ms"]})
        heaviest = max(report["pages"].items(), key=lambda item: item[1]["first_visit_bytes"])
        checks.append({"budget": f"{db}: pages < 100 KB transferred (first visit, as nginx sends)",
                       "measured": f"largest {heaviest[1]['first_visit_bytes'] / 1024:.1f} KB ({heaviest[0]})",
                       "met": heaviest[1]["first_visit_bytes"] < load.BUDGETS["page_kb_max"] * 1024})
        lost = [row["endpoint"] for row in report["endpoints"] if row.get("stored_all") is False]
        wrong = [row["endpoint"] for row in report["endpoints"] if row["wrong_status"] or row["socket_errors"]]
        checks.append({"budget": f"{db}: every request answered as expected, every write stored",
                       "measured": "ok" if not (lost or wrong) else f"wrong: {wrong}, lost: {lost}",
                       "met": not (lost or wrong)})
    for report in dispatches:
        checks.append({"budget": f"{report['database']}: dispatch >= 2,000 items/s to the null channel",
                       "measured": f"same text {report['same_text']['dispatch_per_second']:,}/s, "
                                   f"distinct {report['distinct_texts']['dispatch_per_second']:,}/s",
                       "met": report["within_budget"]})
    checks.append({"budget": "catalogue load < 1 s for 100 modules x 3 languages",
                   "measured": f"{catalogue_result['load_catalogue_max_s'] * 1000:.0f} ms",
                   "met": catalogue_result["within_budget"]})
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk run per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="3 s per endpoint, 2,000 patients: a smoke run")
    parser.add_argument("--output", default="", help="results file (default bench/results/<date>.json)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.patients = 3, 2000
    databases = [d for d in args.databases.split(",") if d]

    machine = describe_machine()
    print(f"Machine: {machine['cpus']} cores ({machine['cpu_model']}), {machine['memory_gib']} GiB, "
          f"Python {machine['python']}, {machine['postgresql']}, {machine['wrk']}")
    catalogue_result = catalogue.run()
    catalogue.print_result(catalogue_result)
    in_process = []
    for database in databases:
        print(f"\nIn-process benchmark on {database} ...", flush=True)
        report = inprocess.run(database, patients=args.patients, repeat=50 if args.quick else 300)
        inprocess.print_report(report)
        in_process.append(report)
    loads = []
    for database in databases:
        print(f"\nLoad benchmark on {database} ...", flush=True)
        report = load.run_load(database, patients=args.patients, seconds=args.seconds, concurrency=args.concurrency)
        load.print_load(report)
        loads.append(report)

    dispatches = []
    for database in databases:
        url = "" if database == "sqlite" else load.prepare_database("postgresql", Path("/tmp"))
        report = dispatch.run(10_000, url, repeat=1 if args.quick else 3)
        print()
        dispatch.print_report(report)
        dispatches.append(report)

    checks = budgets(loads, dispatches, catalogue_result, in_process)
    print(f"\n{'budget':<78}{'measured':<44}")
    for check in checks:
        print(f"{check['budget']:<78}{check['measured']:<44}{'met' if check['met'] else 'MISSED'}")
    result = {"date": date.today().isoformat(), "machine": machine,
              "settings": {"seconds_per_endpoint": args.seconds, "concurrency": args.concurrency,
                           "patients": args.patients},
              "in_process": in_process, "load": loads, "dispatch": dispatches, "catalogue": catalogue_result, "budgets": checks}
    out = Path(args.output) if args.output else ROOT / "bench" / "results" / f"{result['date']}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
