"""Delivery under faults: a mail server that is down, a scheduler that dies in
the middle of a batch, and two schedulers running at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from webapp.core.db import utcnow
from webapp.core.mail import SmtpMailer
from webapp.notifications.models import OutboxItem
from webapp.notifications.services import Channels, Kind, dispatch_all_due, dispatch_due, notify


class Recording(Channels):
    """A channel that records what it delivered; optionally dies before item number ``die_at``."""

    def __init__(self, die_at: int | None = None):
        super().__init__()
        self.delivered: list[int] = []
        self.lock = threading.Lock()
        self.die_at = die_at

    def deliver(self, item, text):
        with self.lock:
            if self.die_at is not None and len(self.delivered) + 1 == self.die_at:
                raise KeyboardInterrupt("the scheduler process was killed")
            self.delivered.append(item.id)


def _queue(db, make, n):
    patient = make.user("patient")
    for _ in range(n):
        notify(patient, Kind.PASSWORD_RESET, {"url": "http://localhost/x"}, channels=("null",))
    db.session.commit()
    return [i.id for i in db.session.scalars(select(OutboxItem).order_by(OutboxItem.id))]


def test_smtp_down_then_back_delivers_exactly_once(app, db, make, smtp_server):
    patient = make.user("patient")
    notify(patient, Kind.PASSWORD_RESET, {"url": "http://localhost/x"})
    db.session.commit()
    down = Channels(SmtpMailer("127.0.0.1", 1, sender="lotsa@lotsa.example", timeout=2))
    up = Channels(SmtpMailer("127.0.0.1", smtp_server.port, sender="lotsa@lotsa.example"))
    now = utcnow()
    for _ in range(3):  # three failed tries, each pushed further out
        assert dispatch_due(down, now=now) == 0
        now = db.session.scalars(select(OutboxItem.due_at)).one() + timedelta(seconds=1)
    assert db.session.scalars(select(OutboxItem.attempts)).one() == 3
    assert dispatch_due(up, now=now) == 1
    assert dispatch_due(up, now=now + timedelta(hours=1)) == 0
    assert len(smtp_server.sink.bodies_to(patient.email)) == 1


def test_scheduler_killed_mid_batch_then_restarted(app, db, make):
    ids = _queue(db, make, 5)
    dying = Recording(die_at=3)
    try:
        dispatch_due(dying)
    except KeyboardInterrupt:
        pass
    db.session.rollback()
    assert dying.delivered == ids[:2]
    statuses = Counter(db.session.scalars(select(OutboxItem.status)))
    assert statuses == {"sent": 2, "sending": 3}
    # A new scheduler takes over the dead one's claims once they are stale.
    restarted = Recording()
    later = utcnow() + timedelta(seconds=app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"] + 1)
    assert dispatch_due(restarted, now=later) == 3
    assert sorted(dying.delivered + restarted.delivered) == ids  # every item, none twice


def test_two_schedulers_never_send_the_same_item(app, db, make):
    ids = _queue(db, make, 300)
    db.session.close()
    shared = Recording()
    app.config["OUTBOX_BATCH_SIZE"] = 25
    errors = []

    def scheduler():
        with app.app_context():
            try:
                dispatch_all_due(shared)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(shared.delivered) == ids
    assert Counter(shared.delivered).most_common(1)[0][1] == 1
