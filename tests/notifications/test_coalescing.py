"""Coalesced notices queued by two requests at the same moment reach the person once.

``notify()`` skips a "new message" notice while one is pending, but two
transactions on two workers or app servers can both find nothing pending and
both queue one (bench/scaleout.py caught a clinician told twice within 4 ms).
The scheduler drops the redundant one when it claims it; these tests write the
rows such races leave behind directly.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from webapp.core.db import utcnow
from webapp.notifications.models import OutboxItem
from webapp.notifications.services import Channels, claim_due, dispatch_due

LINK = "http://localhost/auth/login"


def _item(db, user, kind="new_message", *, created_at=None, status="pending", claimed_at=None, attempts=0):
    item = OutboxItem(kind=kind, channel="null", user_id=user.id, address="", locale="sv",
                      payload=json.dumps({"url": LINK}), status=status, attempts=attempts,
                      due_at=utcnow() - timedelta(seconds=1), created_at=created_at or utcnow(),
                      claimed_at=claimed_at, claimed_by="other-scheduler:1" if claimed_at else None)
    db.session.add(item)
    db.session.commit()
    return item.id


def _statuses(db) -> dict[int, str]:
    return dict(db.session.execute(select(OutboxItem.id, OutboxItem.status)).all())


def test_two_notices_queued_at_once_are_delivered_once(app, db, make):
    patient = make.user("patient")
    first = _item(db, patient)
    _item(db, patient)  # the same notice again, queued at the same moment
    assert dispatch_due(Channels()) == 1
    assert _statuses(db) == {first: "sent"}


def test_the_later_notice_is_dropped_when_another_scheduler_is_sending_the_first(app, db, make):
    patient = make.user("patient")
    now = utcnow()
    first = _item(db, patient, created_at=now - timedelta(milliseconds=4), status="sending",
                  claimed_at=now + timedelta(milliseconds=300), attempts=1)
    second = _item(db, patient, created_at=now)
    assert claim_due() == []
    assert _statuses(db) == {first: "sending"}
    assert second not in _statuses(db)


def test_the_lower_id_is_dropped_when_the_higher_one_committed_and_went_out_first(app, db, make):
    patient = make.user("patient")
    now = utcnow()
    lower = _item(db, patient, created_at=now)
    higher = _item(db, patient, created_at=now + timedelta(milliseconds=2), status="sent",
                   claimed_at=now + timedelta(milliseconds=500), attempts=1)
    assert dispatch_due(Channels()) == 0
    assert _statuses(db) == {higher: "sent"}
    assert lower not in _statuses(db)


def test_a_notice_after_the_first_went_out_is_delivered(app, db, make):
    patient = make.user("patient")
    now = utcnow()
    first = _item(db, patient, created_at=now - timedelta(seconds=10), status="sent",
                  claimed_at=now - timedelta(seconds=9), attempts=1)
    second = _item(db, patient, created_at=now)
    assert dispatch_due(Channels()) == 1
    assert _statuses(db) == {first: "sent", second: "sent"}


def test_other_people_and_other_kinds_are_not_coalesced(app, db, make):
    patient, other = make.user("patient"), make.user("patient")
    ids = [_item(db, patient), _item(db, other), _item(db, patient, "password_reset"),
           _item(db, patient, "password_reset"), _item(db, patient, "new_message_staff")]
    assert dispatch_due(Channels()) == 5
    assert set(_statuses(db)) == set(ids)


def test_a_retry_is_never_dropped(app, db, make):
    patient = make.user("patient")
    now = utcnow()
    first = _item(db, patient, created_at=now - timedelta(seconds=60), status="pending", attempts=1)
    second = _item(db, patient, created_at=now, status="pending", attempts=0)
    # The retry is kept; the fresh notice adds nothing while the retry waits.
    assert dispatch_due(Channels()) == 1
    assert _statuses(db) == {first: "sent"}
    assert second not in _statuses(db)
