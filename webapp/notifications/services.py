"""Notifications: other features say *what* happened; this module decides how and
when people are told, and the scheduler process delivers.

``notify()`` only adds outbox rows to the caller's transaction, so a request that
rolls back never tells anyone anything. ``dispatch_due()`` is the scheduler's job:
it claims due rows atomically (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` serialises claimers), delivers them, and retries failures
with exponential backoff. A claim is a lease: the scheduler renews it while it
works through the batch, hands back what it has not sent when it stops
(``release_claims``), and a claim left behind by a crashed scheduler is taken
over once it has not been renewed for OUTBOX_CLAIM_TIMEOUT_SECONDS, so nothing is
lost (delivery is at-least-once).
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from time import monotonic

from babel import Locale
from flask import current_app
from flask_babel import force_locale, get_translations
from sqlalchemy import ARRAY, Integer, and_, any_, bindparam, case, delete, func, or_, select, text, update
from sqlalchemy.orm import aliased

from webapp.core.dates import at_local, to_local
from webapp.core.db import UTCDateTime, utcnow
from webapp.core.i18n import template_gettext
from webapp.core.mail import DeliveryError, MailboxFileMailer, SmtpMailer
from webapp.core.security import constant_time_equal, token_hash
from webapp.core.sms import FileSms, HttpSmsGateway
from webapp.extensions import db
from webapp.notifications.models import NotificationConsent, OutboxItem, SchedulerHeartbeat
from webapp.notifications.signals import deliveries_failed

log = logging.getLogger(__name__)


class Kind(str, enum.Enum):
    """What happened. Each kind has templates notifications/<kind>.<channel>.txt."""

    INVITATION = "invitation"
    # Bandit B105: a notification kind, not a password.
    PASSWORD_RESET = "password_reset"  # nosec B105
    # An existing patient was given access to one more programme.
    PROGRAMME_OPENED = "programme_opened"
    ACCESS_CLOSED = "access_closed"
    # To the patient, 14 days before an automatic close.
    ACCESS_CLOSING_SOON = "access_closing_soon"
    # To the responsible clinician.
    DURATION_REACHED = "duration_reached"
    # A new message: to the patient (if they opted in) and to the care team.
    NEW_MESSAGE = "new_message"
    NEW_MESSAGE_STAFF = "new_message_staff"
    # A code to confirm a mobile number (always sent: the patient asked for it).
    PHONE_CODE = "phone_code"
    # A link that confirms a new e-mail address (to the new address), and the
    # notice to the old address once the change is made.
    EMAIL_CONFIRM = "email_confirm"
    EMAIL_CHANGED = "email_changed"
    # Opt-in reminders for the patient.
    MODULE_OPENED = "module_opened"
    INACTIVITY = "inactivity"
    # To administrators: deliveries that failed for good.
    DELIVERY_FAILED = "delivery_failed"
    # A questionnaire to answer, and reminders until it is answered.
    QUESTIONNAIRE_WAITING = "questionnaire_waiting"
    QUESTIONNAIRE_REMINDER = "questionnaire_reminder"
    # To the responsible clinician: an answer hit a safety rule.
    SAFETY_FLAG = "safety_flag"
    # Opt-in, to the patient: a planned follow-up contact is tomorrow.
    CONTACT_REMINDER = "contact_reminder"
    # Opt-in, to the clinicians of a care unit: a safety alert nobody has
    # acknowledged within the set working hours.
    SAFETY_ESCALATION = "safety_escalation"
    # To the patient: the care team sent a page of patient information (it says no more than that).
    INFORMATION_SHARED = "information_shared"
    # To a resident who asked to start a programme: the care unit has answered (never what it said).
    REFERRAL_ANSWERED = "referral_answered"


# Kinds a patient chooses to get, per channel; the others are part of a service
# they asked for (invitation, password reset, access changes) and always sent.
OPTIONAL_KINDS = (Kind.NEW_MESSAGE, Kind.MODULE_OPENED, Kind.INACTIVITY, Kind.CONTACT_REMINDER)
# Kinds a clinician chooses to get (their account's notification settings).
STAFF_OPTIONAL_KINDS = (Kind.SAFETY_ESCALATION,)


def optional_kinds_for(user) -> tuple[Kind, ...]:
    """The kinds a user may turn on or off: a patient's reminders, a clinician's team alerts."""
    if user.role == "patient":
        return OPTIONAL_KINDS
    return STAFF_OPTIONAL_KINDS if user.role == "clinician" else ()
# While one of these is still waiting to go out, a newer one adds nothing:
# "you have a new message" once is enough.
COALESCED_KINDS = {Kind.NEW_MESSAGE, Kind.NEW_MESSAGE_STAFF, Kind.MODULE_OPENED, Kind.DELIVERY_FAILED,
                   Kind.QUESTIONNAIRE_WAITING}
COALESCED_VALUES = tuple(kind.value for kind in COALESCED_KINDS)
QUIET_START, QUIET_END = 21, 8  # SMS quiet hours, Europe/Stockholm


def next_sms_time(at: datetime) -> datetime:
    """``at`` unless it falls in the quiet hours; then 08:00 Stockholm time that morning."""
    local = to_local(at)
    if QUIET_END <= local.hour < QUIET_START:
        return at
    morning = local.replace(hour=QUIET_END, minute=0, second=0, microsecond=0)
    if local.hour >= QUIET_START:
        morning = (local + timedelta(days=1)).replace(hour=QUIET_END, minute=0, second=0, microsecond=0)
    # Build the wall-clock time again so a DST change overnight lands on 08:00.
    return at_local(morning.date(), time(QUIET_END, 0))


def channels_for(user, kind: Kind) -> tuple[str, ...]:
    """The channels a user has opted into for an optional kind (SMS only to a confirmed mobile).

    Staff get their usual notices by e-mail; an opt-in staff kind goes only
    where they chose.
    """
    if user.role != "patient" and Kind(kind) not in STAFF_OPTIONAL_KINDS:
        return ("email",)
    rows = db.session.scalars(select(NotificationConsent).where(
        NotificationConsent.user_id == user.id, NotificationConsent.kind == Kind(kind).value,
        NotificationConsent.is_enabled.is_(True)))
    chosen = {row.channel for row in rows}
    if "sms" in chosen and not (user.phone and user.phone_verified_at):
        chosen.discard("sms")
    return tuple(sorted(chosen))


def notify_user(user, kind: Kind, payload: dict) -> list[OutboxItem]:
    """Tell a user about an optional kind of event on the channels they chose."""
    return notify(user, kind, payload, channels=channels_for(user, kind))


def notify(user, kind: Kind, payload: dict, channels: Iterable[str] = ("email",),
           due_at: datetime | None = None, immediate: bool = False, address: str | None = None) -> list[OutboxItem]:
    """Queue a notification for a user on the given channels (in this transaction).

    SMS wait out the quiet hours unless ``immediate`` (a code the user asked for).
    ``address`` sends to another address than the account's (a new e-mail address
    or mobile number that is being confirmed, or the old one after a change).
    """
    items = []
    kind = Kind(kind)
    to = address
    for channel in channels:
        address = to or (user.email if channel == "email" else user.phone if channel == "sms" else "")
        if channel != "null" and not address:
            continue
        if kind in COALESCED_KINDS and db.session.scalar(select(OutboxItem.id).where(
                OutboxItem.user_id == user.id, OutboxItem.kind == kind.value, OutboxItem.channel == channel,
                OutboxItem.status == "pending").limit(1)):
            continue
        due = due_at or utcnow()
        item = OutboxItem(
            kind=Kind(kind).value,
            channel=channel,
            user_id=user.id,
            address=address or "",
            locale=user.locale,
            payload=json.dumps(payload),
            status="pending",
            attempts=0,
            # SMS wait for the morning; e-mail waits in the inbox anyway.
            due_at=next_sms_time(due) if channel == "sms" and not immediate else due,
        )
        db.session.add(item)
        items.append(item)
    return items


@dataclass(frozen=True)
class Rendered:
    """A notification's text; frozen because one is shared by every item of a batch with the same text."""

    subject: str
    body: str


def preview(kind: Kind, channel: str, locale: str, payload: dict) -> Rendered:
    """What a notification will look like, for the settings pages (nothing is queued)."""
    return render(OutboxItem(kind=Kind(kind).value, channel=channel, locale=locale, payload=json.dumps(payload)))


@functools.lru_cache(maxsize=64)
def _locale(code: str) -> Locale:
    """A parsed locale (force_locale takes one as it is; parsing a code looks for files on disk each time)."""
    return Locale.parse(code)


def render(item) -> Rendered:
    """Render an item's text in the recipient's language.

    ``item`` is an OutboxItem or a claimed row: only kind, channel, locale and
    payload are read, so the text is a function of those four.
    """
    payload = json.loads(item.payload or "{}")
    # The null channel (benchmarks) renders the e-mail text, so it costs what e-mail costs.
    channel = "email" if item.channel == "null" else item.channel
    template = current_app.jinja_env.get_template(f"notifications/{item.kind}.{channel}.txt")
    with force_locale(_locale(item.locale)):
        # Templates define {% set subject %} at top level and write the body as output.
        # The translations are bound once per text instead of looked up per string.
        module = template.make_module({**payload, "base_url": current_app.config["BASE_URL"],
                                       **template_gettext(get_translations())})
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
            mailer = mailer or MailboxFileMailer(os.path.join(current_app.instance_path, "mailbox.txt"))
            sms = sms or FileSms(os.path.join(current_app.instance_path, "sms.txt"))
        return cls(mailer, sms)

    def deliver(self, item: OutboxItem, text: Rendered) -> None:
        if item.channel == "null":
            return
        if item.channel == "email":
            if self.mailer is None:
                raise DeliveryError("e-mail is not configured (SMTP_PORT)")
            self.mailer.send(item.address, text.subject, text.body, reference=f"lotsa-outbox-{item.id}")
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


#: Set by the scheduler process when it is told to stop (SIGTERM, Ctrl-C):
#: delivery finishes the item in hand, then hands the rest of the batch back.
STOPPING = threading.Event()


def release_claims(ids: Iterable[int] | None = None, connection=None) -> int:
    """Hand this process's claimed, unsent items back; return how many.

    They become pending again as if never claimed, so another scheduler (or
    this one after a restart) sends them at its next tick instead of after the
    claim timeout, and the attempt the claim counted is taken back: nothing was
    tried. Only rows still ``sending`` under this process's ``claimed_by``
    change, so an item already delivered, or taken over by another scheduler,
    is never handed back. ``ids`` narrows it to those items; ``connection`` (an
    autocommit connection) runs it there, otherwise in the session, committed.
    """
    stmt = update(OutboxItem).where(OutboxItem.status == "sending", OutboxItem.claimed_by == worker_id())
    if ids is not None:
        ids = list(ids)
        if not ids:
            return 0
        stmt = stmt.where(OutboxItem.id.in_(ids))
    stmt = stmt.values(status="pending", claimed_at=None, claimed_by=None,
                       attempts=case((OutboxItem.attempts > 0, OutboxItem.attempts - 1), else_=0))
    if connection is not None:
        return connection.execute(stmt).rowcount
    count = db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return count


def renew_claims(ids: Iterable[int], connection) -> set[int]:
    """Renew the lease on this process's claims among ``ids``; return the ids still claimed by it.

    An id missing from the answer was taken over by another scheduler (this one
    went longer than the claim timeout without renewing): it must not be sent
    from here. One UPDATE ... RETURNING, so the check and the renewal are one
    atomic step against another scheduler's claim.
    """
    ids = list(ids)
    if not ids:
        return set()
    rows = connection.execute(
        update(OutboxItem)
        .where(OutboxItem.id.in_(ids), OutboxItem.status == "sending", OutboxItem.claimed_by == worker_id())
        .values(claimed_at=utcnow())
        .returning(OutboxItem.id)
    )
    return {row.id for row in rows}


def claim_due(now: datetime | None = None, limit: int | None = None) -> list:
    """Atomically mark due items as being sent by this worker and return them.

    Two statements whatever the batch size: lock the due ids (skipping rows
    another scheduler holds), then mark them claimed and read them back in one
    UPDATE ... RETURNING; when the batch holds coalesced kinds, one DELETE in
    between drops notices made redundant by a concurrent one (see
    :func:`_coalesced_doubles`). The items are plain rows (the columns of
    CLAIMED_COLUMNS) in due order, not ORM objects: the commit cannot expire
    them, and a batch of them costs no identity map.
    """
    now = now or utcnow()
    config = current_app.config
    limit = limit or config["OUTBOX_BATCH_SIZE"]
    stale = now - timedelta(seconds=config["OUTBOX_CLAIM_TIMEOUT_SECONDS"])
    outbox = OutboxItem.__table__
    connection = db.session.connection()
    locked = connection.execute(
        select(outbox.c.id, outbox.c.kind)
        .where(
            or_(
                and_(outbox.c.status == "pending", outbox.c.due_at <= now),
                and_(outbox.c.status == "sending", outbox.c.claimed_at < stale),
            )
        )
        .order_by(outbox.c.due_at, outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    ids = [row.id for row in locked]
    if any(row.kind in COALESCED_VALUES for row in locked):
        doubles = set(connection.scalars(
            delete(outbox).where(outbox.c.id.in_(_coalesced_doubles(ids, connection.dialect)))
            .returning(outbox.c.id)))
        if doubles:
            log.info("outbox: %d notice(s) dropped, one for the same person was already waiting", len(doubles))
            ids = [item_id for item_id in ids if item_id not in doubles]
    if not ids:
        db.session.commit()
        return []
    items = connection.execute(
        update(outbox)
        .where(_among(outbox.c.id, ids, connection.dialect))
        .values(status="sending", claimed_at=now, claimed_by=worker_id(), attempts=outbox.c.attempts + 1)
        .returning(*(outbox.c[name] for name in CLAIMED_COLUMNS))
    ).all()
    db.session.commit()
    # RETURNING gives no order.
    return sorted(items, key=lambda item: (item.due_at, item.id))


def _among(column, ids: list[int], dialect):
    """``column IN ids``; on PostgreSQL ``= ANY`` of one array parameter instead.

    A batch's ids as one parameter keep the statement's text the same for
    every batch, so the driver prepares it once, instead of building and
    parsing a statement with a parameter per item each time.
    """
    if dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=ARRAY(Integer), unique=True))
    return column.in_(ids)


#: What the dispatch loop reads of a claimed item.
CLAIMED_COLUMNS = ("id", "kind", "channel", "user_id", "address", "locale", "payload", "attempts", "due_at")


def _coalesced_doubles(ids: list[int], dialect):
    """The ids of claimed, never-tried items of a coalesced kind that another item makes redundant (a SELECT).

    ``notify()`` skips a coalesced kind while one is pending, but two
    transactions that notify the same person at the same moment (two workers or
    app servers) both find nothing pending and both queue one. Of such a pair the
    later adds nothing: an item is dropped when the same person, kind and channel
    has another item that is pending with a lower id, or that was claimed (being
    or already delivered) after this one was created. Every scheduler decides the
    same way from committed rows, so one of a pair is always kept, and no lock is
    waited for.
    """
    later, other = aliased(OutboxItem), aliased(OutboxItem)
    return (
        select(later.id).distinct()
        .join(other, and_(other.user_id == later.user_id, other.kind == later.kind,
                          other.channel == later.channel, other.id != later.id))
        .where(_among(later.id, ids, dialect), later.kind.in_(COALESCED_VALUES), later.attempts == 0,
               or_(and_(other.status == "pending", other.id < later.id),
                   and_(other.status.in_(["sending", "sent"]), other.claimed_at > later.created_at)))
    )


class _ResultsConnection:
    """The autocommit connection a scheduler records results on: opened for the first batch, kept for the tick.

    Autocommit makes each result one round trip (no BEGIN/COMMIT) and durable
    on its own. On PostgreSQL it does not wait for the WAL flush: if the
    database server itself crashed, the last few results could be lost and
    those items sent again, which is the at-least-once we give anyway; a crash
    of the scheduler loses nothing the server has received.
    """

    def __init__(self):
        self.connection = None

    def get(self):
        if self.connection is None:
            self.connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.connection.dialect.name == "postgresql":
                self.connection.exec_driver_sql("SET synchronous_commit TO OFF")
        return self.connection

    def __enter__(self) -> _ResultsConnection:
        return self

    def __exit__(self, *exc) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("RESET synchronous_commit")
        finally:
            connection.close()


def dispatch_due(channels: Channels | None = None, now: datetime | None = None,
                 limit: int | None = None) -> int:
    """Deliver one batch of due items; return how many were delivered (see :func:`_dispatch_batch`)."""
    channels = channels or Channels.from_config(current_app.config)
    with _ResultsConnection() as results:
        return _dispatch_batch(channels, now, limit, results)


def dispatch_all_due(channels: Channels | None = None) -> int:
    """Deliver batches until nothing is due (one scheduler tick), recording on one connection."""
    channels = channels or Channels.from_config(current_app.config)
    total = 0
    with _ResultsConnection() as results:
        while True:
            before = total
            total += _dispatch_batch(channels, None, None, results)
            # Stop when a batch delivered nothing new (all done, or all failing),
            # or when the scheduler is stopping.
            if total == before or STOPPING.is_set():
                return total


def _dispatch_batch(channels: Channels, now: datetime | None, limit: int | None,
                    results: _ResultsConnection) -> int:
    """Claim one batch and deliver it; return how many were delivered.

    At most one notification is sent twice when the scheduler dies at any
    point, because an item's delivery and the durable record of it are never
    more than one item apart:

    - the claim commits every item of the batch as ``sending`` (one UPDATE);
      a claim left by a dead scheduler is taken over after the lease, and
      everything still ``sending`` is then sent again;
    - a delivered item is marked ``sent`` by its own autocommitted UPDATE
      (one statement, the only per-item one) *before the next channel call*,
      so at any moment at most the one item in hand is delivered and still
      ``sending``: that is the one a crash can duplicate;
    - an attempt that failed delivered nothing, so its result is recorded
      later, set-wise (one statement for all failures, written before each
      lease renewal, before stopping and at the end of the batch): a crash
      before that only means the item is tried again after the lease, never
      a duplicate. The claim already counted the attempt.

    Everything else is per batch: texts are rendered up front, once per
    (kind, channel, locale, payload), and shared by the items that have the
    same one (a notice to a cohort, in each language); claims are renewed
    every third of OUTBOX_CLAIM_TIMEOUT_SECONDS, not per item (so a long batch
    is never taken over while this one is still sending it); when STOPPING is
    set the rest of the batch is handed back after the item in hand.
    """
    items = claim_due(now, limit)
    if not items:
        return 0
    config = current_app.config
    renew_every = config["OUTBOX_CLAIM_TIMEOUT_SECONDS"] / 3
    outcomes = _Outcomes(results.get(), config["OUTBOX_MAX_ATTEMPTS"])
    # All texts first, in one tight loop: measured, it costs less CPU than
    # rendering between round trips.
    outcomes.render_all(items)
    renewed_at = monotonic()
    ours = None  # None: every item of the batch (no renewal yet)
    try:
        for index, item in enumerate(items):
            if STOPPING.is_set():
                outcomes.flush()
                released = release_claims([rest.id for rest in items[index:]], outcomes.connection)
                log.info("outbox: stopping; %d claimed item(s) handed back unsent", released)
                break
            if monotonic() - renewed_at >= renew_every:
                # Failures first: a renewal covers only the items not yet tried.
                outcomes.flush()
                ours = renew_claims([rest.id for rest in items[index:]], outcomes.connection)
                renewed_at = monotonic()
            if ours is not None and item.id not in ours:
                log.warning("outbox item %s was taken over by another scheduler; not sent from here", item.id)
                continue
            outcomes.deliver(channels, item)
    finally:
        outcomes.flush()
    if outcomes.failed:
        deliveries_failed.send(None)
    return outcomes.sent


# A failed attempt's result; only while this scheduler still holds the claim
# (the results are written a little later than the attempt).
RECORD_FAILURE = text(
    "UPDATE outbox_item SET status = :status, last_error = :last_error, due_at = :due_at "
    "WHERE id = :id AND status = 'sending' AND claimed_by = :claimed_by"
).bindparams(bindparam("due_at", type_=UTCDateTime()))



# The delivered item's record, in each driver's own parameter style (sqlite3: qmark, psycopg: format).
MARK_SENT_QMARK = "UPDATE outbox_item SET status = 'sent', sent_at = ?, payload = '{}', last_error = NULL WHERE id = ?"
MARK_SENT_FORMAT = ("UPDATE outbox_item SET status = 'sent', sent_at = %s, payload = '{}', last_error = NULL "
                    "WHERE id = %s")


class _Outcomes:
    """Delivers the items of one batch and records what happened to each."""

    def __init__(self, connection, max_attempts: int):
        self.connection = connection
        self.max_attempts = max_attempts
        self.sent = 0
        self.failed = 0  # given up for good (DELIVERY_FAILED reports not counted)
        self.failures: list[dict] = []
        # One text per (kind, channel, locale, payload): the text depends on nothing else.
        self.texts: dict[tuple[str, str, str, str], Rendered | Exception] = {}
        dialect = connection.dialect
        # One fixed statement in the driver's own parameter style, run without
        # compiling anything: the per-item cost is the round trip.
        self.mark_sent = MARK_SENT_QMARK if dialect.paramstyle == "qmark" else MARK_SENT_FORMAT
        self.stamp = UTCDateTime().bind_processor(dialect)

    def render_all(self, items) -> None:
        """Render each distinct text of the batch once (a failure is kept for the items that need it)."""
        for item in items:
            key = (item.kind, item.channel, item.locale, item.payload)
            if key not in self.texts:
                try:
                    self.texts[key] = render(item)
                except Exception as exc:  # a template bug must not stop the other deliveries
                    log.exception("outbox item %s could not be rendered", item.id)
                    self.texts[key] = exc

    def deliver(self, channels: Channels, item) -> None:
        """Deliver one claimed item; a success is recorded at once, a failure queued for :meth:`flush`."""
        rendered = self.texts[(item.kind, item.channel, item.locale, item.payload)]
        if isinstance(rendered, Exception):
            log.error("outbox item %s not sent: its text could not be rendered", item.id)
            self._fail(item, "failed", f"{type(rendered).__name__}: {rendered}"[:500], item.due_at)
            return
        try:
            channels.deliver(item, rendered)
        except DeliveryError as exc:
            error = str(exc)[:500]
            if exc.permanent or item.attempts >= self.max_attempts:
                self._fail(item, "failed", error, item.due_at)
                log.warning("outbox item %s failed for good: %s", item.id, exc)
            else:
                retry_at = utcnow() + backoff(item.attempts)
                self._fail(item, "pending", error, next_sms_time(retry_at) if item.channel == "sms" else retry_at)
                log.info("outbox item %s will be retried: %s", item.id, exc)
        else:
            # Durable before the next item is tried: this is what keeps a crash
            # to at most one duplicate (see _dispatch_batch).
            self.connection.exec_driver_sql(self.mark_sent, (self.stamp(utcnow()), item.id))
            self.sent += 1

    def _fail(self, item, status: str, error: str, due_at: datetime) -> None:
        self.failures.append({"id": item.id, "status": status, "last_error": error, "due_at": due_at,
                              "claimed_by": worker_id()})
        self.failed += status == "failed" and item.kind != Kind.DELIVERY_FAILED.value

    def flush(self) -> None:
        """Record the failed attempts so far, all in one statement."""
        if self.failures:
            failures, self.failures = self.failures, []
            self.connection.execute(RECORD_FAILURE, failures)


def beat(now: datetime | None = None) -> None:
    """Record that this scheduler process is alive (the admin page warns when none is)."""
    row = db.session.get(SchedulerHeartbeat, worker_id())
    if row is None:
        db.session.add(SchedulerHeartbeat(worker=worker_id(), beat_at=now or utcnow()))
    else:
        row.beat_at = now or utcnow()
    db.session.commit()


def last_heartbeat() -> datetime | None:
    """When a scheduler process last said it was alive."""
    return db.session.scalar(select(func.max(SchedulerHeartbeat.beat_at)))


def failed_deliveries(limit: int = 100) -> list[OutboxItem]:
    """Items given up on, newest first, for the administrators."""
    return list(db.session.scalars(select(OutboxItem).where(OutboxItem.status == "failed")
                                   .order_by(OutboxItem.id.desc()).limit(limit)))


# --- the patient's choices and mobile number -------------------------------------

CHANNELS = ("email", "sms")
PHONE_CODE_MINUTES = 10


def consent_choices(user=None) -> list[str]:
    """Every choice the settings page offers: ``kind:channel`` for each optional kind and channel."""
    kinds = OPTIONAL_KINDS if user is None else optional_kinds_for(user)
    return [f"{kind.value}:{channel}" for kind in kinds for channel in CHANNELS]


def consents_of(user) -> dict[tuple[str, str], NotificationConsent]:
    """The user's consent rows by (kind, channel), yes or no."""
    rows = db.session.scalars(select(NotificationConsent).where(NotificationConsent.user_id == user.id))
    return {(row.kind, row.channel): row for row in rows}


def chosen(consents: dict[tuple[str, str], NotificationConsent]) -> list[str]:
    """The ``kind:channel`` choices the user has said yes to."""
    return [f"{kind}:{channel}" for (kind, channel), row in consents.items() if row.is_enabled]


def save_consents(user, choices: Iterable[str], consents: dict[tuple[str, str], NotificationConsent],
                  now: datetime | None = None) -> bool:
    """Record yes or no for every optional kind and channel; a new yes gets its time.

    SMS stay off until the mobile number is confirmed: returns False when an SMS
    choice was refused for that reason (the page offers none then, but a form
    can be older than the number's state).
    """
    now = now or utcnow()
    wanted_values = set(choices)
    accepted = True
    for kind in optional_kinds_for(user):
        for channel in CHANNELS:
            wanted = f"{kind.value}:{channel}" in wanted_values
            if channel == "sms" and wanted and not user.phone_verified_at:
                wanted, accepted = False, False
            row = consents.get((kind.value, channel))
            if row is None:
                if not wanted:
                    continue
                row = NotificationConsent(user_id=user.id, kind=kind.value, channel=channel)
                db.session.add(row)
            if wanted and not row.is_enabled:
                row.consented_at = now
            row.is_enabled = wanted
            row.updated_at = now
    return accepted


def send_phone_code(user) -> bool:
    """Text a new six-digit code to the user's mobile number; False when there is no number."""
    if not user.phone:
        return False
    code = f"{secrets.randbelow(1_000_000):06d}"
    # Only a hash is kept, bound to the user, like every other token.
    user.phone_code_hash = token_hash(f"{user.id}:{code}")
    user.phone_code_expires_at = utcnow() + timedelta(minutes=PHONE_CODE_MINUTES)
    # Sent at once, quiet hours or not: the patient is waiting for it.
    notify(user, Kind.PHONE_CODE, {"code": code}, channels=("sms",), due_at=utcnow(), immediate=True)
    return True


def confirm_phone(user, code: str) -> bool:
    """Mark the mobile number confirmed if ``code`` is the one sent and still valid; False otherwise."""
    valid = bool(user.phone_code_hash and user.phone_code_expires_at and user.phone_code_expires_at > utcnow()
                 and constant_time_equal(user.phone_code_hash, token_hash(f"{user.id}:{code}")))
    if valid:
        user.phone_verified_at = utcnow()
        # A code works once.
        user.phone_code_hash = None
        user.phone_code_expires_at = None
    return valid
