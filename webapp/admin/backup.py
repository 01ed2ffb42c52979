"""Online backups and restores.

SQLite: ``flask --app webapp backup`` copies the live database with SQLite's
backup API, page by page under a read transaction, so the copy is consistent
while the app keeps serving; ``flask --app webapp restore FILE`` checks the copy
and writes it back. PostgreSQL: use ``pg_dump``/``pg_restore`` (docs/deployment
of backups in docs/privacy.md); the command prints the exact invocation.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url


def _sqlite_path() -> Path | None:
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        return None
    return Path(url.database)


def backup_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included), then checked."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
    check_sqlite(target)


def check_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        result = connection.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise click.ClickException(f"{path} is damaged: {result}")


def restore_sqlite(backup: Path, target: Path) -> None:
    """Write a checked backup over the live database (through SQLite, so WAL and locks are respected)."""
    check_sqlite(backup)
    with sqlite3.connect(backup) as copy, sqlite3.connect(target) as live:
        copy.backup(live)


@click.command("backup")
@click.option("--to", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the backup file (default: instance/backups).")
@with_appcontext
def backup_command(folder: Path | None) -> None:
    """Make a consistent online backup of the database."""
    source = _sqlite_path()
    if source is None:
        raise click.ClickException(
            "PostgreSQL: back up with pg_dump, e.g. "
            "pg_dump --format=custom --file=lotsa-$(date +%Y%m%d-%H%M).dump \"$DATABASE_URL\" "
            "(restore with pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" FILE); see docs/privacy.md")
    folder = folder or Path(current_app.instance_path) / "backups"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    target = folder / f"lotsa-{stamp}.sqlite3"
    backup_sqlite(source, target)
    click.echo(f"Backup written to {target} ({target.stat().st_size:,} bytes, integrity checked).")


@click.command("restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(backup: Path, yes: bool) -> None:
    """Replace the database with a backup (stop the app and the scheduler first)."""
    target = _sqlite_path()
    if target is None:
        raise click.ClickException("PostgreSQL: restore with pg_restore; see docs/privacy.md")
    if not yes:
        click.confirm(f"Replace {target} with {backup}?", abort=True)
    restore_sqlite(backup, target)
    click.echo(f"Restored {target} from {backup}.")
