"""Database behaviour: migrations match the models, SQLite loses no concurrent
update, and the access log cannot be rewritten."""

from __future__ import annotations

import threading
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from webapp.core.audit import AccessLogEntry, AppendOnlyError, log_access


def test_migrations_and_models_agree(db):
    """A model change without a migration (or the reverse) fails here."""
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == []


def test_migrations_downgrade_and_upgrade_again(app, db):
    from flask_migrate import downgrade, upgrade

    db.session.remove()
    downgrade(revision="base")
    with db.engine.connect() as conn:
        tables = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade()
    with db.engine.connect() as conn:
        assert "enrolment" in db.inspect(conn).get_table_names()


def test_sqlite_uses_wal_and_busy_timeout(app, db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == app.config["SQLITE_BUSY_TIMEOUT_MS"]
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _lock_is_free(path: str) -> bool:
    import fcntl
    import os

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_sqlite_transactions_queue_on_the_lock_file_and_always_let_go(app, db):
    """Held from BEGIN to COMMIT or ROLLBACK, also when the pool resets a connection someone left open."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite write-lock queue")
    db.session.remove()
    path = db.engine.url.database + ".lock"
    for end in ("commit", "rollback", "return to the pool"):
        conn = db.engine.connect()
        conn.execute(text("SELECT 1"))
        assert not _lock_is_free(path), f"not held in a transaction ({end})"
        if end == "commit":
            conn.commit()
        elif end == "rollback":
            conn.rollback()
        conn.close()
        assert _lock_is_free(path), f"still held after {end}"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT 1"))
        assert _lock_is_free(path), "an autocommit connection takes no transaction lock"


def test_four_concurrent_writers_lose_no_update(app, db, make):
    """Read-then-write from four threads at once: every increment must survive.

    With SQLite's default deferred BEGIN two transactions read the same value and
    one increment is lost (or fails with "database is locked"); BEGIN IMMEDIATE
    serialises them. On PostgreSQL the row lock of SELECT ... FOR UPDATE does it.
    """
    from webapp.auth.models import User

    user = make.user("patient")
    user_id = user.id
    # End the test's own transaction: with BEGIN IMMEDIATE it holds the write lock.
    db.session.close()
    writers, rounds = 4, 25
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def work():
        with app.app_context():
            try:
                barrier.wait()
                for _ in range(rounds):
                    row = db.session.scalars(select(User).where(User.id == user_id).with_for_update()).one()
                    current = row.failed_login_count
                    time.sleep(0.001)  # widen the race window
                    row.failed_login_count = current + 1
                    db.session.commit()
            except BaseException as exc:  # reported below with the count
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.session.expire_all()
    assert db.session.get(User, user_id).failed_login_count == writers * rounds


def test_access_log_is_append_only_in_the_orm(app, db, make):
    admin = make.user("admin")
    log_access(admin, "test.read", patient_id=1)
    db.session.commit()
    entry = db.session.scalars(select(AccessLogEntry)).one()
    entry.action = "rewritten"
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.scalars(select(AccessLogEntry)).one())
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()


def test_access_log_is_append_only_in_the_database(app, db, make):
    admin = make.user("admin")
    log_access(admin, "test.read", patient_id=1)
    db.session.commit()
    statements = ["UPDATE access_log SET action = 'x'", "DELETE FROM access_log"]
    if db.engine.dialect.name == "postgresql":
        # TRUNCATE skips row triggers; its own statement trigger refuses it.
        statements.append("TRUNCATE access_log")
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(statement))
    assert db.session.scalars(select(AccessLogEntry.action)).one() == "test.read"
