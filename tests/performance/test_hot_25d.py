"""Statement bounds for notification dispatch (issue 25): one statement per
delivered item and a constant per batch, nothing per failed item, and one
render per distinct text.

A delivered item's own UPDATE is the price of "a crashed scheduler re-sends at
most one notification" (see ``_dispatch_batch``); everything else must stay
per batch, so a regression to per-item round trips fails here.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from tests.performance.bounds import listing
from webapp.core.db import utcnow
from webapp.notifications import services
from webapp.notifications.models import OutboxItem
from webapp.notifications.services import Channels, dispatch_all_due, dispatch_due


def _queue(db, n: int, channel: str = "null", distinct: bool = True) -> None:
    now = utcnow()
    for i in range(n):
        url = f"http://localhost/auth/reset/{i if distinct else 'x'}"
        db.session.add(OutboxItem(kind="password_reset", channel=channel, address="p@lotsa.example" if channel == "email"
                                  else "", locale=("sv", "en", "ar")[i % 3], payload=json.dumps({"url": url}),
                                  status="pending", attempts=0, due_at=now, created_at=now))
    db.session.commit()


def _session_settings(db) -> int:
    """PostgreSQL's results connection sets and resets synchronous_commit: two statements per tick."""
    return 2 if db.engine.dialect.name == "postgresql" else 0


def test_a_batch_costs_one_statement_per_delivered_item_plus_two(app, db, count_queries):
    _queue(db, 40)
    with count_queries() as counter:
        assert dispatch_due(Channels()) == 40
    # Lock the due ids; claim and read them (UPDATE ... RETURNING); one UPDATE per delivery.
    assert counter.count == 40 + 2 + _session_settings(db), listing(counter)
    assert set(db.session.scalars(select(OutboxItem.status))) == {"sent"}


def test_failed_attempts_are_recorded_in_one_statement(app, db, count_queries):
    _queue(db, 30, channel="email")
    with count_queries() as counter:
        assert dispatch_due(Channels()) == 0  # no mailer configured: every attempt fails
    # Lock, claim, and one executemany for the 30 results: nothing per item.
    assert counter.count == 3 + _session_settings(db), listing(counter)
    rows = db.session.scalars(select(OutboxItem)).all()
    assert {(row.status, row.attempts) for row in rows} == {("pending", 1)}
    assert all("not configured" in row.last_error and row.due_at > utcnow() for row in rows)


def test_a_tick_of_several_batches_costs_two_statements_a_batch(app, db, count_queries):
    app.config["OUTBOX_BATCH_SIZE"] = 10
    _queue(db, 25)
    with count_queries() as counter:
        assert dispatch_all_due(Channels()) == 25
    # Three batches of lock + claim, the last sweep's lock that finds nothing,
    # and the session settings once for the tick, not per batch.
    assert counter.count == 25 + 3 * 2 + 1 + _session_settings(db), listing(counter)


def test_a_text_is_rendered_once_per_batch_for_every_item_that_has_it(app, db, monkeypatch):
    _queue(db, 30, distinct=False)  # one notice in three languages
    rendered = []
    real = services.render

    def counting(item):
        rendered.append((item.kind, item.locale))
        return real(item)

    monkeypatch.setattr(services, "render", counting)
    assert dispatch_due(Channels()) == 30
    assert sorted(rendered) == [("password_reset", "ar"), ("password_reset", "en"), ("password_reset", "sv")]
