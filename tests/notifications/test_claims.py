"""Claims are leases: a stopping scheduler hands back what it has not sent, a
crashed one's claims are taken over once the lease runs out, a long batch keeps
its lease, and nothing is delivered twice.

The in-process tests drive ``dispatch_due`` as the fault tests do; the last two
run the real scheduler process (``flask --app webapp scheduler run``) against a
slow SMTP server and stop it with SIGTERM or kill it with SIGKILL mid-batch.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from webapp.core.db import utcnow
from webapp.core.mail import SmtpMailer
from webapp.notifications import services
from webapp.notifications.models import OutboxItem
from webapp.notifications.services import (
    STOPPING,
    Channels,
    Kind,
    claim_due,
    dispatch_due,
    notify,
    release_claims,
)
from webapp.scheduler import STOP_GRACE_SECONDS

ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).parent / "flask"


@pytest.fixture(autouse=True)
def _not_stopping():
    """STOPPING is process-wide: never let one test's stop leak into the next."""
    STOPPING.clear()
    yield
    STOPPING.clear()


class Recording(Channels):
    """Records what it delivered; ``during(n)`` is called before delivering the n-th item (1-based)."""

    def __init__(self, during=None, pause: float = 0.0):
        super().__init__()
        self.delivered: list[int] = []
        self.lock = threading.Lock()
        self.during, self.pause = during, pause

    def deliver(self, item, text):
        if self.during:
            self.during(len(self.delivered) + 1)
        time.sleep(self.pause)
        with self.lock:
            self.delivered.append(item.id)


def _queue(db, make, n, channel="null"):
    patient = make.user("patient")
    for _ in range(n):
        notify(patient, Kind.PASSWORD_RESET, {"url": "http://localhost/x"}, channels=(channel,))
    db.session.commit()
    return [i.id for i in db.session.scalars(select(OutboxItem).order_by(OutboxItem.id))]


def _rows(db):
    db.session.expire_all()
    return {row.id: row for row in db.session.scalars(select(OutboxItem))}


def test_a_stopping_scheduler_hands_back_the_rest_of_its_batch(app, db, make):
    ids = _queue(db, make, 5)

    def stop_after_two(n):
        if n == 3:  # the SIGTERM arrives while item 2 is being sent
            STOPPING.set()

    stopping = Recording(during=stop_after_two)
    assert dispatch_due(stopping) == 3  # the item in hand is finished
    rows = _rows(db)
    assert Counter(row.status for row in rows.values()) == {"sent": 3, "pending": 2}
    for item_id in ids[3:]:
        # As if never claimed: no claim, and the claim's attempt taken back.
        assert (rows[item_id].claimed_by, rows[item_id].claimed_at, rows[item_id].attempts) == (None, None, 0)
    STOPPING.clear()
    # The next scheduler sends them at once, not after the claim timeout.
    restarted = Recording()
    assert dispatch_due(restarted) == 2
    assert sorted(stopping.delivered + restarted.delivered) == ids  # every item, none twice


def test_release_touches_only_this_processes_unsent_claims(app, db, make):
    ids = _queue(db, make, 4)
    assert len(claim_due()) == 4
    db.session.execute(update(OutboxItem).where(OutboxItem.id == ids[0]).values(claimed_by="other-host:1"))
    db.session.execute(update(OutboxItem).where(OutboxItem.id == ids[1]).values(status="sent"))
    db.session.commit()
    assert release_claims() == 2
    rows = _rows(db)
    assert [rows[i].status for i in ids] == ["sending", "sent", "pending", "pending"]
    assert rows[ids[0]].claimed_by == "other-host:1"  # another scheduler's claim stays its own
    assert release_claims() == 0


def test_a_crashed_schedulers_claims_are_taken_over_after_the_lease_and_not_before(app, db, make):
    lease = app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"]
    # "Within a minute": the lease plus at most one tick interval.
    assert lease + app.config["SCHEDULER_INTERVAL_SECONDS"] <= 60
    ids = _queue(db, make, 5)

    def killed(n):
        if n == 3:
            raise KeyboardInterrupt("the scheduler process was killed")

    dying = Recording(during=killed)
    started = utcnow()
    with pytest.raises(KeyboardInterrupt):
        dispatch_due(dying)
    db.session.rollback()
    assert Counter(row.status for row in _rows(db).values()) == {"sent": 2, "sending": 3}
    other = Recording()
    assert dispatch_due(other, now=started + timedelta(seconds=lease - 5)) == 0  # still leased
    assert dispatch_due(other, now=utcnow() + timedelta(seconds=lease + 1)) == 3
    assert sorted(dying.delivered + other.delivered) == ids


def _two_schedulers(monkeypatch):
    """Give each thread its own worker id, as two scheduler processes have."""
    monkeypatch.setattr(services, "worker_id", lambda: f"test-host:{threading.current_thread().name}")


def test_a_long_batch_keeps_its_lease_so_nothing_is_sent_twice(app, db, make, monkeypatch):
    _two_schedulers(monkeypatch)
    ids = _queue(db, make, 8)
    db.session.close()
    # A 3 s lease, renewed every second, and a batch that takes 8 x 0.4 s.
    app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"] = 3
    claimed, done = threading.Event(), threading.Event()
    slow, other = Recording(pause=0.4, during=lambda n: claimed.set()), Recording()
    errors = []

    def first():
        with app.app_context():
            try:
                dispatch_due(slow)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                done.set()
                services.db.session.remove()

    def second():
        # Another scheduler sweeping all the time, with the real clock.
        with app.app_context():
            try:
                while not done.is_set():
                    dispatch_due(other)
                    time.sleep(0.1)
            except BaseException as exc:
                errors.append(exc)
            finally:
                services.db.session.remove()

    threads = [threading.Thread(target=first, name="one"), threading.Thread(target=second, name="two")]
    threads[0].start()
    assert claimed.wait(timeout=10)  # the first scheduler holds the whole batch
    threads[1].start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert other.delivered == []  # never taken over while it was still being sent
    assert slow.delivered == ids


def test_an_item_taken_over_meanwhile_is_not_sent_again(app, db, make, monkeypatch):
    _two_schedulers(monkeypatch)
    ids = _queue(db, make, 4)
    app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"] = 3

    def stall(n):
        if n == 1:
            # While item 1 is slow to send, the lease of the rest runs out and
            # another scheduler takes item 3 (as claim_due would).
            with services.db.engine.begin() as conn:
                conn.execute(update(OutboxItem).where(OutboxItem.id == ids[2]).values(claimed_by="other-host:2"))
            time.sleep(1.1)

    stalled = Recording(during=stall)
    assert dispatch_due(stalled) == 3
    assert stalled.delivered == [ids[0], ids[1], ids[3]]


# --- the real scheduler process ------------------------------------------------------------


class SlowSink:
    """An SMTP server's handler that takes ``delay`` seconds per message and records Message-IDs."""

    def __init__(self, delay: float):
        self.delay = delay
        self.ids: list[int] = []
        self.first = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        match = re.search(rb"Message-ID: <lotsa-outbox-(\d+)@", envelope.content, re.IGNORECASE)
        self.ids.append(int(match.group(1)) if match else -1)
        self.first.set()
        return "250 OK"


@pytest.fixture
def slow_smtp():
    from aiosmtpd.controller import Controller

    from tests.fixtures.plugin import free_port

    sink = SlowSink(delay=0.4)
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.sink = sink
    yield controller
    controller.stop()


def _scheduler_process(app, tmp_path, smtp_port):
    from tests.fixtures.plugin import TEST_SECRET

    env = {
        **os.environ,
        "LOTSA_ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "LOTSA_INSTANCE_PATH": str(tmp_path / "scheduler-instance"),
        "RATELIMIT_ENABLED": "false",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SCHEDULER_INTERVAL_SECONDS": "1",
        "CONTENT_AUTO_RELOAD": "false",
    }
    log = open(tmp_path / "scheduler.log", "w")  # noqa: SIM115 - closed by the caller
    process = subprocess.Popen([str(FLASK), "--app", "webapp", "scheduler", "run"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return process, log


def _run_until_first_delivery(app, db, make, tmp_path, slow_smtp, n=8):
    patient = make.user("patient", email="claims.patient@lotsa.example")
    for _ in range(n):
        notify(patient, Kind.PASSWORD_RESET, {"url": "http://localhost/x"})
    db.session.commit()
    ids = [i.id for i in db.session.scalars(select(OutboxItem).order_by(OutboxItem.id))]
    db.session.close()
    process, log = _scheduler_process(app, tmp_path, slow_smtp.port)
    if not slow_smtp.sink.first.wait(timeout=60):
        process.kill()
        process.wait()
        log.close()
        pytest.fail("the scheduler delivered nothing within 60 s:\n" + (tmp_path / "scheduler.log").read_text())
    return ids, process, log


def test_sigterm_hands_the_unsent_claims_back(app, db, make, tmp_path, slow_smtp):
    ids, process, log = _run_until_first_delivery(app, db, make, tmp_path, slow_smtp)
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=STOP_GRACE_SECONDS + 10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    output = (tmp_path / "scheduler.log").read_text()
    assert code == 0, output
    assert "handed back unsent" in output, output
    rows = _rows(db)
    sent = sorted(i for i, row in rows.items() if row.status == "sent")
    pending = [row for row in rows.values() if row.status == "pending"]
    assert sorted(slow_smtp.sink.ids) == sent  # what was recorded is what arrived, no more, no less
    assert pending and len(sent) + len(pending) == len(ids)
    assert all(row.claimed_by is None and row.attempts == 0 for row in pending)
    # The next scheduler delivers the rest at once: every item arrives once.
    mailer = SmtpMailer("127.0.0.1", slow_smtp.port, sender=app.config["MAIL_FROM"])
    assert dispatch_due(Channels(mailer)) == len(pending)
    assert sorted(slow_smtp.sink.ids) == ids


def test_sigkill_leaves_claims_for_another_scheduler_after_the_lease(app, db, make, tmp_path, slow_smtp):
    ids, process, log = _run_until_first_delivery(app, db, make, tmp_path, slow_smtp)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    log.close()
    killed_at = utcnow()
    time.sleep(slow_smtp.sink.delay + 0.2)  # a message the SMTP server was receiving is in
    rows = _rows(db)
    assert any(row.status == "sending" for row in rows.values())
    mailer = SmtpMailer("127.0.0.1", slow_smtp.port, sender=app.config["MAIL_FROM"])
    lease = app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"]
    assert dispatch_due(Channels(mailer), now=killed_at + timedelta(seconds=lease - 10)) == 0
    dispatch_due(Channels(mailer), now=killed_at + timedelta(seconds=lease + 1))
    assert {row.status for row in _rows(db).values()} == {"sent"}
    counts = Counter(slow_smtp.sink.ids)
    assert sorted(counts) == ids  # nothing lost
    # At-least-once: only the item in hand when the process died may arrive twice.
    assert sum(count - 1 for count in counts.values()) <= 1
