"""Database infrastructure: declarative base, naming convention, SQLite tuning.

SQLite is the embedded default. Three settings make it safe for a web app:
WAL (readers never block the writer), busy_timeout (wait for a lock instead of
failing at once) and BEGIN IMMEDIATE (take the write lock when a transaction
starts; with SQLite's default deferred BEGIN two requests can both read a row and
then both write it, and one update is silently lost or fails with "locked").

With BEGIN IMMEDIATE every transaction takes the one write lock, and SQLite's
busy handler waits for it by sleeping 1, 2, 5, 10 ... 100 ms between tries: the
lock sits free while the waiters sleep, and five gunicorn workers got less done
than one, with some requests waiting far longer than others. So transactions
first queue on a lock file next to the database (``flock``, polled every 0.1 to
1 ms), which hands the lock on within a millisecond of its release; SQLite's own
locking stays underneath for anything else that opens the file.

PostgreSQL gets time limits (``configure_postgres``): the server cancels slow
statements itself (statement_timeout, set in webapp/config.py), but a server
that is frozen, or behind a network that has gone, answers nothing at all, and
libpq would wait for ever. So every wait for the server ends after
DATABASE_RESPONSE_TIMEOUT_SECONDS; the connection is then closed and SQLAlchemy
throws it away. ``database_deadline()`` shortens every wait inside a block
(``/healthz`` answers within its own limit).
"""

from __future__ import annotations

import fcntl
import functools
import math
import os
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from sqlalchemy import DateTime, Integer, MetaData, event, func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every model; constraint names follow NAMING_CONVENTION."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (all timestamps are stored in UTC)."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always aware UTC in Python, whatever the backend stores.

    SQLite has no time zones and returns naive values; PostgreSQL returns aware
    ones. Normalising here keeps comparisons like ``expires_at < utcnow()`` safe.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use webapp.core.db.utcnow()")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def days_between(column, now: datetime):
    """Whole days from a timestamp column to ``now``, portable across SQLite and PostgreSQL."""
    # At call time: webapp.extensions imports this module for the declarative base.
    from webapp.extensions import db

    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return func.floor(func.extract("epoch", now - column) / 86400)
    return func.cast(func.julianday(now.replace(tzinfo=None)) - func.julianday(column), Integer)


def make_private(path: str) -> None:
    """A SQLite file (health data, addresses) readable by the service's user only.

    SQLite gives its -wal and -shm files the database file's permissions, so
    setting them on the file (created here if new) covers all three.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if os.stat(path).st_uid == os.geteuid():
        os.chmod(path, 0o600)


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Apply WAL, busy_timeout, foreign keys and BEGIN IMMEDIATE to a SQLite engine."""
    if engine.dialect.name != "sqlite":
        return
    on_disk = engine.url.database not in (None, "", ":memory:")
    if on_disk:
        make_private(engine.url.database)
    lock = WriteLockQueue(engine.url.database + ".lock", busy_timeout_ms / 1000) if on_disk else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if on_disk:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # An AUTOCOMMIT connection runs each statement on its own; SQLAlchemy
        # never commits it, so a BEGIN here would silently swallow its writes.
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        if lock:
            lock.acquire(connection.connection.dbapi_connection)
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    if lock:
        lock.release_after(engine)


class WriteLockQueue:
    """A lock file that SQLite transactions queue on, one open file per connection.

    ``acquire`` waits (polling, so it can give up) until this connection holds
    the lock; it is released right after the transaction's COMMIT or ROLLBACK,
    including the rollback with which the pool resets a returned connection, and
    by the kernel when a connection (or its process) goes away.
    """

    # Waiting polls quickly at first (most transactions are short) and backs off to
    # a millisecond, so four waiters behind a long transaction do not eat the CPU
    # that the one holding the lock needs.
    POLL_SECONDS, POLL_MAX_SECONDS = 0.0001, 0.001

    @staticmethod
    def _key(connection) -> int:
        # The pool hands the dialect its proxy (a "fairy") on reset, SQLAlchemy the raw connection otherwise.
        return id(getattr(connection, "dbapi_connection", connection))

    def __init__(self, path: str, timeout_seconds: float):
        self.path = path
        self.timeout = timeout_seconds
        self.files: dict[int, int] = {}  # id(DBAPI connection) -> lock file descriptor
        self.held: set[int] = set()

    def acquire(self, dbapi_connection) -> None:
        key = self._key(dbapi_connection)
        if key in self.held:
            return
        fd = self.files.get(key)
        if fd is None:
            fd = self.files[key] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        pause = self.POLL_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held.add(key)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    # Give up queueing: BEGIN IMMEDIATE then waits and fails as SQLite always did.
                    return
                time.sleep(pause)
                pause = min(pause * 2, self.POLL_MAX_SECONDS)

    def release(self, dbapi_connection) -> None:
        key = self._key(dbapi_connection)
        if key in self.held:
            self.held.discard(key)
            fcntl.flock(self.files[key], fcntl.LOCK_UN)

    def forget(self, dbapi_connection) -> None:
        self.release(dbapi_connection)
        fd = self.files.pop(self._key(dbapi_connection), None)
        if fd is not None:
            os.close(fd)

    def release_after(self, engine: Engine) -> None:
        """Release after the dialect's commit and rollback; forget a connection when the pool closes it."""
        dialect = engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection):
            commit(dbapi_connection)
            self.release(dbapi_connection)

        def do_rollback(dbapi_connection):
            try:
                rollback(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        dialect.do_commit, dialect.do_rollback = do_commit, do_rollback
        event.listen(engine, "close", lambda dbapi_connection, _record: self.forget(dbapi_connection))
        event.listen(engine, "close_detached", self.forget)


# --- PostgreSQL time limits -------------------------------------------------------

#: time.monotonic() by which every wait for PostgreSQL must end, in this context.
_deadline: ContextVar[float | None] = ContextVar("lotsa_database_deadline", default=None)


@contextmanager
def database_deadline(seconds: float) -> Iterator[None]:
    """End every wait for PostgreSQL inside the block within ``seconds`` (connecting included).

    Nested blocks keep the earlier deadline. Connecting takes libpq's minimum
    of 2 s however little time is left. SQLite is not affected.
    """
    end = time.monotonic() + seconds
    current = _deadline.get()
    token = _deadline.set(end if current is None else min(current, end))
    try:
        yield
    finally:
        _deadline.reset(token)


def _time_left(limit: float | None) -> float | None:
    """Seconds a wait may take: ``limit`` (None: no limit), shortened by a deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return limit
    left = deadline - time.monotonic()
    return left if limit is None else min(limit, left)


def configure_postgres(engine: Engine, response_timeout: float, ping_timeout: float,
                       ping_after_idle: float = 10) -> None:
    """Bound every wait for a PostgreSQL engine's server; nothing for other engines.

    - ``response_timeout`` (0: none): the longest a query, commit or rollback
      waits for the server's answer before the connection is closed and the
      statement fails with OperationalError (SQLAlchemy then discards it).
    - ``ping_timeout``: the pool's pre-ping of a kept connection gets only this
      long, so checking out a connection to a frozen server fails over to
      reconnecting (which connect_timeout bounds) instead of waiting the
      full response timeout first.
    - ``ping_after_idle``: the pre-ping is one round trip on every request
      (issue 25), so it is sent only when it can find something: when the
      connection's socket has something to read while it sat in the pool (a
      restart or an administrator's kill sends a goodbye and closes the
      socket; a server that crashed or was killed leaves the socket closed,
      which reads as ready too), when psycopg knows the connection is gone, or
      when it has sat unused ``ping_after_idle`` seconds or more (a network
      that silently dropped an idle connection shows nothing on the socket).
    """
    if engine.dialect.name == "postgresql":
        _keep_other_writes_durable(engine)
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return
    connection_class = _deadline_connection_class()

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        import psycopg

        left = _time_left(None)
        if left is not None:
            if left <= 0:
                raise psycopg.OperationalError("no time left to connect to the database server")
            given = int(cparams.get("connect_timeout") or 0)
            cparams = {**cparams, "connect_timeout": min(given, math.ceil(left)) if given else math.ceil(left)}
        connection = connection_class.connect(*cargs, **cparams)
        connection.response_timeout = response_timeout or None
        return connection

    @event.listens_for(engine, "checkin")
    def _handed_back(dbapi_connection, _record):
        if dbapi_connection is not None:
            dbapi_connection.idle_since = time.monotonic()

    dialect = engine.dialect
    ping = dialect.do_ping

    def do_ping(dbapi_connection):
        if _quiet_since_recently(dbapi_connection, ping_after_idle):
            return True
        with database_deadline(ping_timeout):
            return ping(dbapi_connection)

    dialect.do_ping = do_ping


# --- commits that need not wait for the disk ------------------------------------

# The execution option that marks a write a database crash may lose without harm.
ASYNCHRONOUS_COMMIT = "asynchronous_commit"
# Per pooled connection, for the transaction under way: it wrote something that must
# wait for the disk, and it has turned the wait off.
_WROTE, _RELAXED = "lotsa_wrote_durable", "lotsa_commit_relaxed"


def asynchronous_commit_column(dialect_name: str) -> list:
    """Columns for the RETURNING of a write that may be lost in a database crash.

    Every module page writes its page view, and waiting for that commit to reach
    the disk (the WAL's fdatasync) was about 0.4 ms of a 4 ms page (issue 25).
    PostgreSQL's asynchronous commit answers at once instead: a crash of the
    database server within about 0.6 s (three wal_writer_delay) afterwards loses
    the transaction whole, never part of it. Returning
    ``set_config('synchronous_commit', 'off', true)`` turns it on for this
    transaction only, with no round trip of its own. Run the statement with
    ``execution_options={ASYNCHRONOUS_COMMIT: True}``: if the transaction has
    written anything else, before it or after it, the wait is turned back on
    (``_keep_other_writes_durable``), so an answer, a message or an audit row is
    never committed this way by accident. For a page seen and the time on it,
    never for what a person wrote. SQLite: no columns (its commits are local).
    """
    if dialect_name != "postgresql":
        return []
    return [func.set_config("synchronous_commit", "off", True).label("asynchronous_commit")]


def _keep_other_writes_durable(engine: Engine) -> None:
    def wait_again(cursor) -> None:
        with cursor.connection.cursor() as own:
            own.execute("SET LOCAL synchronous_commit TO on")

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, _statement, _parameters, context, _executemany):
        if context is None or not context.is_crud or context.execution_options.get(ASYNCHRONOUS_COMMIT):
            return
        conn.info[_WROTE] = True
        if conn.info.pop(_RELAXED, False):
            wait_again(cursor)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, _statement, _parameters, context, _executemany):
        if context is not None and context.execution_options.get(ASYNCHRONOUS_COMMIT):
            if conn.info.get(_WROTE):
                wait_again(cursor)  # something written earlier in the transaction must not be lost
            else:
                conn.info[_RELAXED] = True

    # SET LOCAL ends with its transaction; so do the marks (info belongs to the pooled
    # connection). An invalidated connection's info went with it.
    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _transaction_ended(conn):
        if not conn.invalidated:
            conn.info.pop(_RELAXED, None)
            conn.info.pop(_WROTE, None)


def _quiet_since_recently(connection, ping_after_idle: float) -> bool:
    """A pooled connection handed back less than ``ping_after_idle`` s ago whose socket has nothing to read."""
    import psycopg

    idle_since = getattr(connection, "idle_since", None)
    if idle_since is None or time.monotonic() - idle_since >= ping_after_idle or connection.broken:
        return False
    try:
        readable, _, _ = select.select([connection.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return False  # no socket any more (closed or finished): the ping says so
    return not readable


@functools.cache
def _deadline_connection_class():
    """psycopg's Connection whose waits for the server end in time (made on first use:
    SQLite installations never import psycopg)."""
    import psycopg
    from psycopg import errors

    # psycopg (3.2 and later) bounds a wait with ``timeout`` and raises this
    # internal error when it expires; see Connection.wait.
    wait_timeout = errors._WaitTimeout

    class DeadlineConnection(psycopg.Connection):
        """Gives up on a server that does not answer within ``response_timeout`` seconds.

        Every blocking step (execute, fetch, commit, rollback, the pool's ping)
        goes through ``wait``. When the time is up the connection's state is
        unknown (the server may still answer later), so it is closed: psycopg
        then reports it ``closed`` and SQLAlchemy counts that as a disconnect
        and never hands the connection out again.
        """

        response_timeout: float | None = None
        #: time.monotonic() when the pool last got the connection back (None: never).
        idle_since: float | None = None

        def wait(self, gen, interval=0.1, timeout=None):
            limit = _time_left(self.response_timeout)
            if timeout is not None:
                # psycopg's own bounded waits (cancelling) keep their limit.
                return super().wait(gen, interval, timeout if limit is None else min(timeout, max(limit, 0.001)))
            if limit is None:
                return super().wait(gen, interval)
            if limit <= 0:
                # Nothing has been sent yet: the connection is still in a known state.
                gen.close()
                raise psycopg.OperationalError("no time left to wait for the database server")
            try:
                return super().wait(gen, interval, limit)
            except wait_timeout:
                self.pgconn.finish()
                raise psycopg.OperationalError(
                    f"the database server did not answer within {limit:.1f} s; connection closed") from None

    return DeadlineConnection
