"""Soak and fault test: simulated patients and clinicians against gunicorn, the
scheduler and PostgreSQL, while the scheduler is killed and restarted and the
SMTP server goes down and comes back.

    .venv/bin/python bench/soak.py [--minutes 10] [--patients 50] [--clinicians 5]

It creates its own database (``lotsa_soak`` on 127.0.0.1:5432, dropped first),
starts an SMTP sink, gunicorn (2 x cores + 1 workers) and the scheduler as
separate processes on loopback, and drives logged-in sessions from threads in
this process. Every write a client got an acknowledgement for (an answer saved,
a message sent) carries a unique token; afterwards each token must be in the
database. Every e-mail notification in the outbox must arrive exactly once
(the Message-ID is derived from the outbox row, so a duplicate is visible).

Faults, as shares of the run: the scheduler is killed with SIGKILL at 25 % and
started again at 35 %; the SMTP server stops at 50 % and comes back at 60 %.
Results: printed, and written to bench/results/soak-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

from _common import BIN, ROOT, SMTP_SINK, Client, Stats, create_database, free_port, seed, wait_for_port


def patient_loop(base, stats, email, enrolment_id, module, block, stop, n):
    client = Client(base, stats)
    if not client.login(email):
        return
    i = 0
    while not stop.is_set():
        i += 1
        client.request("/home")
        client.request(f"/e/{enrolment_id}/{module}/2")
        token = f"answer-{n}-{i}-{random.getrandbits(32):08x}"
        status, text = client.request(f"/e/{enrolment_id}/answers/{block}", {"text": token, "page": "2"},
                                      accept="application/json")
        if status == 200 and '"saved"' in text:
            with stats.lock:
                stats.answers.add(token)
        client.request(f"/e/{enrolment_id}/messages")
        token = f"message-{n}-{i}-{random.getrandbits(32):08x}"
        status, _ = client.request(f"/e/{enrolment_id}/messages", {"body": token})
        if status == 302:
            with stats.lock:
                stats.messages.add(token)
        stop.wait(random.uniform(0.5, 2.0))


def clinician_loop(base, stats, email, secret, enrolment_ids, stop, n):
    time.sleep(n * 1.5)  # two-factor steps: one login per clinician at a time
    client = Client(base, stats)
    if not client.login(email, secret):
        return
    i = 0
    while not stop.is_set():
        i += 1
        client.request("/clinician/")
        enrolment_id = random.choice(enrolment_ids)
        client.request(f"/clinician/enrolments/{enrolment_id}")
        client.request(f"/clinician/enrolments/{enrolment_id}/messages")
        token = f"reply-{n}-{i}-{random.getrandbits(32):08x}"
        status, _ = client.request(f"/clinician/enrolments/{enrolment_id}/messages", {"body": token})
        if status == 302:
            with stats.lock:
                stats.messages.add(token)
        stop.wait(random.uniform(0.5, 2.0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--clinicians", type=int, default=5)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="lotsa_soak")
    args = parser.parse_args()

    work = Path("/tmp") / f"lotsa-soak-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    create_database(args.admin_url, args.database)
    smtp_port, http_port = free_port(), free_port()
    base = f"http://127.0.0.1:{http_port}"
    env = {
        **os.environ, "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.database}",
        "SECRET_KEY": "soak-" + "x" * 40, "LOTSA_ENV": "development", "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port), "RATELIMIT_ENABLED": "false", "SCHEDULER_INTERVAL_SECONDS": "2",
        "BASE_URL": base, "OUTBOX_MAX_ATTEMPTS": "20",
    }
    subprocess.run([str(BIN / "flask"), "--app", "webapp", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    world = seed(env, args.patients, args.clinicians)

    received = work / "received.txt"
    received.touch()
    logs = {name: open(work / f"{name}.log", "w") for name in ("smtp", "gunicorn", "scheduler")}

    def start_smtp():
        process = subprocess.Popen([sys.executable, "-c", SMTP_SINK, str(smtp_port), str(received)],
                                   stdout=logs["smtp"], stderr=subprocess.STDOUT)
        wait_for_port(smtp_port)
        return process

    def start_scheduler():
        return subprocess.Popen([str(BIN / "flask"), "--app", "webapp", "scheduler", "run"], cwd=ROOT, env=env,
                                stdout=logs["scheduler"], stderr=subprocess.STDOUT)

    workers = 2 * (os.cpu_count() or 1) + 1
    smtp = start_smtp()
    gunicorn = subprocess.Popen([str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{http_port}",
                                 "--timeout", "60", "webapp:create_app()"], cwd=ROOT, env=env,
                                stdout=logs["gunicorn"], stderr=subprocess.STDOUT)
    scheduler = start_scheduler()
    wait_for_port(http_port)

    stats, stop = Stats(), threading.Event()
    threads = [threading.Thread(target=patient_loop, args=(base, stats, email, e, world["module"], world["block"],
                                                           stop, n), daemon=True)
               for n, (email, e) in enumerate(world["patients"])]
    threads += [threading.Thread(target=clinician_loop, args=(base, stats, email, secret, ids, stop, n), daemon=True)
                for n, (email, secret, ids) in enumerate(world["clinicians"])]
    started = time.time()
    for thread in threads:
        thread.start()
    duration = args.minutes * 60
    faults = []

    def at(share):
        while time.time() - started < share * duration:
            time.sleep(0.5)

    at(0.25)
    scheduler.send_signal(signal.SIGKILL)
    scheduler.wait()
    faults.append(("scheduler killed (SIGKILL)", round(time.time() - started)))
    at(0.35)
    scheduler = start_scheduler()
    faults.append(("scheduler started again", round(time.time() - started)))
    at(0.50)
    smtp.terminate()
    smtp.wait()
    faults.append(("SMTP server stopped", round(time.time() - started)))
    at(0.60)
    smtp = start_smtp()
    faults.append(("SMTP server back", round(time.time() - started)))
    at(1.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    load_seconds = time.time() - started

    # Let the scheduler deliver what is left (retries back off up to a few minutes).
    os.environ.update(env)
    from sqlalchemy import func, select

    from webapp import create_app
    from webapp.extensions import db
    from webapp.messages.models import Message
    from webapp.notifications.models import OutboxItem
    from webapp.programme.models import AnswerVersion

    app = create_app()
    with app.app_context():
        deadline = time.time() + 420
        while time.time() < deadline:
            pending = db.session.scalar(select(func.count()).select_from(OutboxItem).where(
                OutboxItem.channel == "email", OutboxItem.status.in_(["pending", "sending"])))
            db.session.rollback()
            if not pending:
                break
            time.sleep(5)
        expected = set(db.session.scalars(select(OutboxItem.id).where(OutboxItem.channel == "email")))
        statuses = dict(db.session.execute(select(OutboxItem.status, func.count()).where(
            OutboxItem.channel == "email").group_by(OutboxItem.status)).all())
        answers_found = set(db.session.scalars(select(AnswerVersion.text).where(AnswerVersion.text.like("answer-%"))))
        messages_found = set(db.session.scalars(select(Message.body)))
    for process in (scheduler, gunicorn, smtp):
        process.terminate()
        process.wait(timeout=30)

    ids = [line.strip() for line in received.read_text().splitlines() if line.strip()]
    delivered = [int(m.split("lotsa-outbox-")[1].split("@")[0]) for m in ids if "lotsa-outbox-" in m]
    result = {
        "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "setup": {"patients": args.patients, "clinicians": args.clinicians, "minutes": args.minutes,
                  "gunicorn_workers": workers, "database": "PostgreSQL"},
        "faults": faults,
        "requests": stats.requests,
        "requests_per_second": round(stats.requests / load_seconds, 1),
        "status_counts": dict(sorted(stats.by_status.items())),
        "server_errors_5xx": stats.server_errors,
        "client_connection_failures": stats.client_failures,
        "answers_acknowledged": len(stats.answers),
        "answers_found": len(stats.answers & answers_found),
        "messages_acknowledged": len(stats.messages),
        "messages_found": len(stats.messages & messages_found),
        "notifications_expected": len(expected),
        "notifications_delivered": len(set(delivered) & expected),
        "notifications_duplicated": len(delivered) - len(set(delivered)),
        "notifications_not_delivered": len(expected - set(delivered)),
        "outbox_statuses": statuses,
    }
    out = ROOT / "bench" / "results" / f"soak-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(f"\nWritten to {out.relative_to(ROOT)}; process logs in {work}")
    ok = (stats.server_errors == 0 and result["answers_found"] == result["answers_acknowledged"]
          and result["messages_found"] == result["messages_acknowledged"]
          and result["notifications_duplicated"] == 0 and result["notifications_not_delivered"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
