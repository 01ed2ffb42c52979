"""Content releases: record a version of the content tree, and let every worker swap to it.

A release is a row naming the sha256 of every content file (and the git
commit, when the content is a checkout). ``make_release`` loads the files
with the same checker as ``flask content check`` and refuses a version with
errors. Each web worker runs a :class:`ReleaseWatch`: at most once every
CONTENT_RELEASE_CHECK_SECONDS a request asks the database for the newest
release (one small query, on its own connection), and if it is not the one
this worker serves, a background thread loads and checks the files and swaps
the catalogue in one assignment. Requests keep being served from the old
catalogue while the new one loads; a release whose files do not match its hash
here (not yet copied to this server) or that has errors is not swapped in, and
is tried again a little later.
"""

from __future__ import annotations

import logging
import subprocess  # nosec B404: a fixed git command, no shell, no user input
import threading
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from webapp.content.services import Catalogue, app_roots, get_catalogue, load_catalogue, swap_catalogue
from webapp.editor.models import ContentRelease
from webapp.extensions import db

log = logging.getLogger("lotsa.content")

# How long a worker waits before it tries a release again that it could not load.
RETRY_SECONDS = 10.0


def git_commit(folder: Path) -> str:
    """The commit checked out where ``folder`` lives, or "" (not a checkout, no git)."""
    try:
        result = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],  # nosec B603 B607
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else ""


def live_release() -> ContentRelease | None:
    """The newest release that was not refused."""
    return db.session.scalar(select(ContentRelease).where(ContentRelease.status == "released")
                             .order_by(ContentRelease.id.desc()).limit(1))


def recent_releases(limit: int = 10) -> list[ContentRelease]:
    return list(db.session.scalars(select(ContentRelease).order_by(ContentRelease.id.desc()).limit(limit)))


def make_release(app, *, user=None, note: str = "") -> tuple[ContentRelease, Catalogue | None]:
    """Check the content files and record a release (or a refused one); the caller commits.

    Returns the row and, if released, the loaded catalogue for the caller to
    swap in after the commit. Content identical to the live release makes no
    new row: the live one is returned.
    """
    roots = app_roots(app)
    catalogue = load_catalogue(*roots)
    current = live_release()
    if current is not None and current.content_hash == catalogue.content_hash and not catalogue.errors:
        catalogue.release = current.label
        return current, catalogue
    release = ContentRelease(content_hash=catalogue.content_hash, git_commit=git_commit(roots[0]),
                             note=note[:500], created_by=user)
    if catalogue.errors:
        release.status = "refused"
        release.error_count = len(catalogue.errors)
        release.errors = "\n".join(str(p) for p in catalogue.errors[:20])
    else:
        release.status = "released"
    db.session.add(release)
    db.session.flush()
    if release.status == "refused":
        log.error("content: release %d refused: %d error(s); the live content stays. First: %s",
                  release.id, release.error_count, catalogue.errors[0])
        return release, None
    catalogue.release = release.label
    return release, catalogue


class ReleaseWatch:
    """One per app (worker): notices a new release and swaps the catalogue to it."""

    def __init__(self, app, interval: float):
        self.app, self.interval = app, interval
        self.next_check = 0.0
        self.lock = threading.Lock()
        self.loading = False
        self.retry_at: dict[int, float] = {}

    def install(self) -> None:
        self.app.before_request(self.before_request)

    def before_request(self) -> None:
        now = time.monotonic()
        if now < self.next_check:
            return
        with self.lock:
            if now < self.next_check or self.loading:
                return
            self.next_check = now + self.interval
        self.check(now)

    def _newest(self) -> tuple[int, str] | None:
        # Its own connection: the request's session and transaction are left alone.
        try:
            with db.engine.connect() as connection:
                row = connection.execute(
                    select(ContentRelease.id, ContentRelease.content_hash)
                    .where(ContentRelease.status == "released").order_by(ContentRelease.id.desc()).limit(1)).first()
        except SQLAlchemyError as exc:  # database away or not migrated yet: keep serving what we have
            log.warning("content: could not look for a new release (%s)", type(exc).__name__)
            return None
        return (row[0], row[1]) if row else None

    def check(self, now: float | None = None, *, wait: bool = False) -> None:
        """Look for a new release; load it in the background (or here, with ``wait``)."""
        now = time.monotonic() if now is None else now
        newest = self._newest()
        if newest is None:
            return
        release_id, content_hash = newest
        label = f"R{release_id}-{content_hash[:10]}"
        serving = self.app.extensions["lotsa_catalogue"]
        if serving.release == label:
            return
        if serving.content_hash == content_hash:
            serving.release = label  # the files this worker loaded are that release already
            return
        if self.retry_at.get(release_id, 0.0) > now:
            return
        with self.lock:
            if self.loading:
                return
            self.loading = True
        if wait:
            self._load(release_id, content_hash, label)
        else:
            threading.Thread(target=self._load, args=(release_id, content_hash, label), daemon=True,
                             name=f"content-release-{release_id}").start()

    def _load(self, release_id: int, content_hash: str, label: str) -> None:
        started = time.perf_counter()
        try:
            catalogue = load_catalogue(*app_roots(self.app))
            if catalogue.content_hash != content_hash:
                log.warning("content: release %s does not match the files on this server yet; "
                            "the previous content keeps serving", label)
                self.retry_at[release_id] = time.monotonic() + RETRY_SECONDS
                return
            if catalogue.errors:
                log.error("content: release %s has %d error(s) here; the previous content keeps serving. First: %s",
                          label, len(catalogue.errors), catalogue.errors[0])
                self.retry_at[release_id] = time.monotonic() + RETRY_SECONDS
                return
            catalogue.release = label
            swap_catalogue(self.app, catalogue)
            log.info("content: release %s is live in this worker (loaded and checked in %.0f ms)",
                     label, (time.perf_counter() - started) * 1000)
        except Exception:  # a fault in the loader must not end the worker: the old catalogue stays
            log.exception("content: loading release %s failed; the previous content keeps serving", label)
            self.retry_at[release_id] = time.monotonic() + RETRY_SECONDS
        finally:
            with self.lock:
                self.loading = False


def init_release_watch(app) -> ReleaseWatch | None:
    """Start watching for releases in this app (not in tests unless they ask for it)."""
    interval = app.config.get("CONTENT_RELEASE_CHECK_SECONDS")
    if interval in (None, ""):
        interval = 0 if app.testing else 2
    interval = float(interval)
    if interval <= 0:
        return None
    watch = app.extensions["lotsa_release_watch"] = ReleaseWatch(app, interval)
    watch.install()
    return watch


def serving_release() -> str:
    """The release label of the catalogue this request uses ("" before any release)."""
    return get_catalogue().release
