"""Notifications: other features say *what* happened; this module decides how and
when people are told, and the scheduler process delivers.

``notify()`` only adds outbox rows to the caller's transaction, so a request that
rolls back never tells anyone anything. ``dispatch_due()`` is the scheduler's job:
it claims due rows atomically (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` serialises claimers), delivers them, and retries failures
with exponential backoff. A claim left behind by a crashed scheduler is taken
over after OUTBOX_CLAIM_TIMEOUT_SECONDS, so nothing is lost (delivery is
at-least-once).
"""

from __future__ import annotations

import enum
import json
import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import and_, or_, select, update

from webapp.core.db import utcnow
from webapp.core.mail import ConsoleMailer, DeliveryError, SmtpMailer
from webapp.core.sms import ConsoleSms, HttpSmsGateway
from webapp.extensions import db
from webapp.notifications.models import OutboxItem

log = logging.getLogger(__name__)


class Kind(str, enum.Enum):
    """What happened. Each kind has templates notifications/<kind>.<channel>.txt."""

    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"
    # An existing patient was given access to one more programme.
    PROGRAMME_OPENED = "programme_opened"
    ACCESS_CLOSED = "access_closed"
    # To the patient, 14 days before an automatic close.
    ACCESS_CLOSING_SOON = "access_closing_soon"
    # To the responsible clinician.
    DURATION_REACHED = "duration_reached"


def notify(user, kind: Kind, payload: dict, channels: Iterable[str] = ("email",),
           due_at: datetime | None = None) -> list[OutboxItem]:
    """Queue a notification for a user on the given channels (in this transaction)."""
    items = []
    for channel in channels:
        address = user.email if channel == "email" else user.phone if channel == "sms" else ""
        if channel != "null" and not address:
            continue
        item = OutboxItem(
            kind=Kind(kind).value,
            channel=channel,
            user_id=user.id,
            address=address or "",
            locale=user.locale,
            payload=json.dumps(payload),
            status="pending",
            attempts=0,
            due_at=due_at or utcnow(),
        )
        db.session.add(item)
        items.append(item)
    return items


@dataclass
class Rendered:
    subject: str
    body: str


def render(item: OutboxItem) -> Rendered:
    """Render an item's text in the recipient's language."""
    payload = json.loads(item.payload or "{}")
    # The null channel (benchmarks) renders the e-mail text, so it costs what e-mail costs.
    channel = "email" if item.channel == "null" else item.channel
    template = current_app.jinja_env.get_template(f"notifications/{item.kind}.{channel}.txt")
    with force_locale(item.locale):
        # Templates define {% set subject %} at top level and write the body as output.
        module = template.make_module({**payload, "base_url": current_app.config["BASE_URL"]})
        return Rendered(subject=str(getattr(module, "subject", "")).strip(), body=str(module).strip() + "\n")


class Channels:
    """The delivery adapters configured for this process."""

    def __init__(self, mailer=None, sms=None):
        self.mailer = mailer
        self.sms = sms

    @classmethod
    def from_config(cls, config) -> Channels:
        mailer, sms = SmtpMailer.from_config(config), HttpSmsGateway.from_config(config)
        if config["LOTSA_ENV"] == "development":
            # `make run` needs no mail server: unconfigured channels print instead.
            mailer = mailer or ConsoleMailer()
            sms = sms or ConsoleSms()
        return cls(mailer, sms)

    def deliver(self, item: OutboxItem, text: Rendered) -> None:
        if item.channel == "null":
            return
        if item.channel == "email":
            if self.mailer is None:
                raise DeliveryError("e-mail is not configured (SMTP_PORT)")
            self.mailer.send(item.address, text.subject, text.body)
        elif item.channel == "sms":
            if self.sms is None:
                raise DeliveryError("SMS is not configured (SMS_GATEWAY_URL)")
            self.sms.send(item.address, text.body.strip())
        else:
            raise DeliveryError(f"unknown channel {item.channel}", permanent=True)


def backoff(attempts: int) -> timedelta:
    """Wait 30 s, 1 min, 2 min, ... capped at 6 h between attempts."""
    return timedelta(seconds=min(30 * 2 ** max(0, attempts - 1), 6 * 3600))


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def claim_due(now: datetime | None = None, limit: int | None = None) -> list[OutboxItem]:
    """Atomically mark due items as being sent by this worker and return them.

    Three statements whatever the batch size: lock the due ids (skipping rows
    another scheduler holds), mark them claimed, load them.
    """
    now = now or utcnow()
    config = current_app.config
    limit = limit or config["OUTBOX_BATCH_SIZE"]
    stale = now - timedelta(seconds=config["OUTBOX_CLAIM_TIMEOUT_SECONDS"])
    ids = list(
        db.session.scalars(
            select(OutboxItem.id)
            .where(
                or_(
                    and_(OutboxItem.status == "pending", OutboxItem.due_at <= now),
                    and_(OutboxItem.status == "sending", OutboxItem.claimed_at < stale),
                )
            )
            .order_by(OutboxItem.due_at, OutboxItem.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        db.session.commit()
        return []
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id.in_(ids))
        .values(status="sending", claimed_at=now, claimed_by=worker_id(), attempts=OutboxItem.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    items = list(
        db.session.scalars(
            select(OutboxItem).where(OutboxItem.id.in_(ids)).order_by(OutboxItem.due_at, OutboxItem.id)
            .execution_options(populate_existing=True)
        )
    )
    # Detached snapshots: the commit would otherwise expire them and reading each
    # one afterwards would cost a query per item.
    for item in items:
        db.session.expunge(item)
    db.session.commit()
    return items


def dispatch_due(channels: Channels | None = None, now: datetime | None = None,
                 limit: int | None = None) -> int:
    """Deliver one batch of due items; return how many were delivered."""
    channels = channels or Channels.from_config(current_app.config)
    items = claim_due(now, limit)
    max_attempts = current_app.config["OUTBOX_MAX_ATTEMPTS"]
    results = []
    for item in items:
        # Every result row has the same keys, so one executemany writes them all.
        result = {"id": item.id, "status": "sent", "sent_at": utcnow(), "payload": "{}",
                  "last_error": None, "due_at": item.due_at}
        try:
            channels.deliver(item, render(item))
        except DeliveryError as exc:
            result.update(sent_at=None, payload=item.payload, last_error=str(exc)[:500])
            if exc.permanent or item.attempts >= max_attempts:
                result["status"] = "failed"
                log.warning("outbox item %s failed for good: %s", item.id, exc)
            else:
                result.update(status="pending", due_at=utcnow() + backoff(item.attempts))
                log.info("outbox item %s will be retried: %s", item.id, exc)
        except Exception as exc:  # a template bug must not stop the other deliveries
            log.exception("outbox item %s could not be rendered", item.id)
            result.update(status="failed", sent_at=None, payload=item.payload,
                          last_error=f"{type(exc).__name__}: {exc}"[:500])
        results.append(result)
    if results:
        db.session.execute(update(OutboxItem), results)
        db.session.commit()
    return sum(1 for r in results if r["status"] == "sent")


def dispatch_all_due(channels: Channels | None = None) -> int:
    """Deliver batches until nothing is due (one scheduler tick)."""
    channels = channels or Channels.from_config(current_app.config)
    total = 0
    while True:
        before = total
        total += dispatch_due(channels)
        # Stop when a batch delivered nothing new (all done, or all failing).
        if total == before:
            return total
