"""The rate limits' default storage: counters in a SQLite file every process on the host shares.

Registered with the `limits` library under the scheme ``lotsa-sqlite://`` when
this module is imported (webapp.extensions does).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from limits.errors import ConfigurationError
from limits.storage import MovingWindowSupport, Storage

from webapp.core.db import make_private


class SQLiteRateLimitStorage(Storage, MovingWindowSupport):
    """Rate-limit counters in one SQLite file, shared by every process on the host.

    ``memory://`` counts inside each gunicorn worker, so five workers let five
    times the limit through. `limits` has no file or SQL storage, and Redis is
    one more service to run on a single server, so this is the default:
    ``lotsa-sqlite:///absolute/path.sqlite3`` (config.py fills in the file in
    instance/). Every change is one write transaction, so increments from
    different processes are never lost. With several app servers use Redis.

    Fixed window: one row per key (``counter``), reset once it has expired.
    Moving window: one row per hit (``entry``). Expired rows are deleted by
    whichever process writes first after a minute.
    """

    STORAGE_SCHEME = ["lotsa-sqlite"]
    #: Seconds between deletions of expired rows (per process).
    PURGE_SECONDS = 60
    SCHEMA = """
        CREATE TABLE IF NOT EXISTS counter (
            key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS counter_expires_at ON counter (expires_at);
        CREATE TABLE IF NOT EXISTS entry (key TEXT NOT NULL, at REAL NOT NULL, expires_at REAL NOT NULL);
        CREATE INDEX IF NOT EXISTS entry_key_at ON entry (key, at);
        CREATE INDEX IF NOT EXISTS entry_expires_at ON entry (expires_at);
    """

    def __init__(self, uri: str, wrap_exceptions: bool = False, timeout: float = 5.0, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = uri.split("://", 1)[1]
        if not self.path.startswith("/"):
            raise ConfigurationError(f"lotsa-sqlite:// needs an absolute file path, got {uri!r}")
        self.timeout = float(timeout)
        self._local = threading.local()
        self._last_purge = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _db(self) -> sqlite3.Connection:
        """This thread's connection; a new one after a fork (a connection must not cross one)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            # Client addresses are personal data: the file is the service user's only.
            make_private(self.path)
            # Autocommit: each statement is its own transaction unless we BEGIN.
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            # WAL: reads never wait for a write. Losing the last counts in a power
            # cut is harmless, so no fsync on every commit (synchronous=NORMAL).
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(self.SCHEMA)
            local.conn, local.pid = conn, os.getpid()
        return local.conn

    def _purge(self, conn: sqlite3.Connection, now: float) -> None:
        if now - self._last_purge < self.PURGE_SECONDS:
            return
        self._last_purge = now
        conn.execute("DELETE FROM counter WHERE expires_at <= ?", (now,))
        conn.execute("DELETE FROM entry WHERE expires_at <= ?", (now,))

    # --- fixed window ------------------------------------------------------------

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add ``amount``; the expiry is set when the key is new or had expired (as Redis's INCR + EXPIRE)."""
        now = time.time()
        conn = self._db()
        # One statement, so one atomic transaction: no read-then-write gap for another process.
        (value,), = conn.execute(
            """INSERT INTO counter (key, value, expires_at) VALUES (:key, :amount, :now + :expiry)
               ON CONFLICT (key) DO UPDATE SET
                 value = CASE WHEN counter.expires_at <= :now THEN :amount ELSE counter.value + :amount END,
                 expires_at = CASE WHEN counter.expires_at <= :now THEN :now + :expiry ELSE counter.expires_at END
               RETURNING value""",
            {"key": key, "amount": amount, "now": now, "expiry": expiry},
        ).fetchall()  # fetch everything: the transaction ends when the statement does
        self._purge(conn, now)
        return int(value)

    def get(self, key: str) -> int:
        row = self._db().execute(
            "SELECT value FROM counter WHERE key = ? AND expires_at > ?", (key, time.time())).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        row = self._db().execute("SELECT expires_at FROM counter WHERE key = ? AND expires_at > ?", (key, now)).fetchone()
        return float(row[0]) if row else now

    def clear(self, key: str) -> None:
        conn = self._db()
        conn.execute("DELETE FROM counter WHERE key = ?", (key,))
        conn.execute("DELETE FROM entry WHERE key = ?", (key,))

    def check(self) -> bool:
        try:
            self._db().execute("SELECT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        conn = self._db()
        (counters,), = conn.execute("SELECT count(*) FROM counter").fetchall()
        (entries,), = conn.execute("SELECT count(DISTINCT key) FROM entry").fetchall()
        conn.execute("DELETE FROM counter")
        conn.execute("DELETE FROM entry")
        return int(counters) + int(entries)

    # --- moving window -----------------------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Record ``amount`` hits if fewer than ``limit`` fall within the last ``expiry`` seconds."""
        if amount > limit:
            return False
        now = time.time()
        conn = self._db()
        # BEGIN IMMEDIATE takes the write lock before the count: two processes can
        # never both see the last free place and both take it.
        conn.execute("BEGIN IMMEDIATE")
        try:
            (used,), = conn.execute(
                "SELECT count(*) FROM entry WHERE key = ? AND at >= ?", (key, now - expiry)).fetchall()
            acquired = used + amount <= limit
            if acquired:
                conn.executemany("INSERT INTO entry (key, at, expires_at) VALUES (?, ?, ?)",
                                 [(key, now, now + expiry)] * amount)
            self._purge(conn, now)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return acquired

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(time of the oldest hit still in the window, hits in the window), as the Redis storage."""
        now = time.time()
        oldest, count = self._db().execute(
            "SELECT min(at), count(*) FROM (SELECT at FROM entry WHERE key = ? AND at >= ? ORDER BY at DESC LIMIT ?)",
            (key, now - expiry, limit),
        ).fetchone()
        return (float(oldest), int(count)) if count else (now, 0)
