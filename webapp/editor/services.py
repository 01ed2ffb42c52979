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

import difflib
import hashlib
import logging
import os
import re
import shutil

# Bandit B404: a fixed git command, no shell, no user input.
import subprocess  # nosec B404
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from webapp.content.services import (
    Catalogue,
    app_roots,
    content_signature,
    get_catalogue,
    load_catalogue,
    swap_catalogue,
)
from webapp.core.db import utcnow
from webapp.editor.models import ContentDraft, ContentRelease, ContentRevision
from webapp.extensions import db

log = logging.getLogger("lotsa.content")

# How long a worker waits before it tries a release again that it could not load.
RETRY_SECONDS = 10.0


def git_commit(folder: Path) -> str:
    """The commit checked out where ``folder`` lives, or "" (not a checkout, no git)."""
    try:
        # Bandit B603 B607: a fixed git command found on PATH, no shell, no user input.
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
        self.checking = False  # a background check is asking the database
        self.retry_at: dict[int, float] = {}
        # Release id -> the files' signature when they did not match it: tried again only when
        # files change, so a server whose tree differs does not reload every few seconds.
        self.mismatch: dict[int, tuple] = {}

    def install(self) -> None:
        self.app.before_request(self.before_request)

    def before_request(self) -> None:
        """Never makes the request wait: a due check asks the database from a thread of its own.

        A request (``/livez`` included) must not wait on a slow or frozen database for the
        watch's sake; asking in the request doubled the wait of every request that came
        while the database was frozen.
        """
        now = time.monotonic()
        if now < self.next_check:
            return
        with self.lock:
            if now < self.next_check or self.loading or self.checking:
                return
            self.next_check = now + self.interval
            self.checking = True
        threading.Thread(target=self._check_in_background, args=(now,), daemon=True,
                         name="content-release-check").start()

    def _check_in_background(self, now: float) -> None:
        try:
            with self.app.app_context():
                self.check(now)
        except Exception:  # the watch must never end the worker; the next check tries again
            log.exception("content: looking for a new release failed")
        finally:
            with self.lock:
                self.checking = False

    def _newest(self) -> tuple[int, str] | None:
        # Its own connection: the request's session and transaction are left alone.
        try:
            # Autocommit: one read, no transaction (on SQLite no BEGIN IMMEDIATE: it takes no write lock).
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                row = connection.execute(
                    select(ContentRelease.id, ContentRelease.content_hash)
                    .where(ContentRelease.status == "released").order_by(ContentRelease.id.desc()).limit(1)).first()
        except SQLAlchemyError as exc:  # database away or not migrated yet: keep serving what we have
            log.warning("content: could not look for a new release (%s: %s)", type(exc).__name__,
                        str(exc).split("\n")[0][:200])
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
        if release_id in self.mismatch and self.mismatch[release_id] == content_signature(*app_roots(self.app)):
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
                log.warning("content: release %s does not match the files on this server; the previous "
                            "content keeps serving until the files match (or a new release is made)", label)
                self.mismatch[release_id] = catalogue.signature
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


# --- drafts, review and history --------------------------------------------------------------------

PATH_RE = re.compile(r"^(?P<programme>[a-z0-9][a-z0-9-]{1,62}[a-z0-9])/(?P<module>[a-z0-9][a-z0-9-]{1,62}[a-z0-9])/"
                     r"(?P<lang>[a-z]{2,3})\.md$")
MAX_TEXT = 200_000
MODULE_TEMPLATE = """---
title: {title}
description: {description}
minutes: 15
kind: normal
version: 1
---

## {first_heading}

::: goal
{goal}

- {key_point}
:::

{first_text}

## {question_heading}

::: reflection {block_id}
{question}
:::
"""


class EditorError(Exception):
    """A draft that cannot be saved or approved; ``code`` says why (the view words it)."""

    def __init__(self, code: str, problems: list | None = None):
        super().__init__(code)
        self.code, self.problems = code, problems or []


def sha(text: str | None) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text is not None else ""


def file_of(app, path: str) -> Path:
    """The file a draft path names, inside the content root; EditorError('path') for anything else."""
    if not isinstance(path, str) or not PATH_RE.match(path) or ".." in path:
        raise EditorError("path")
    return Path(app.config["CONTENT_ROOT"]) / path


def live_text(app, path: str) -> str | None:
    target = file_of(app, path)
    try:
        return target.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None


def _write(target: Path, text: str) -> None:
    """Write a file whole or not at all (a worker loading meanwhile never sees half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, target)


def _listing_change(root: Path, path: str) -> tuple[str, str] | None:
    """(old, new) text of programme.yaml when ``path`` is in a module not yet in its list, else None."""
    match = PATH_RE.match(path)
    programme_file = root / match["programme"] / "programme.yaml"
    try:
        text = programme_file.read_text(encoding="utf-8")
    except OSError:
        return None
    lines = text.split("\n")
    try:
        start = next(n for n, line in enumerate(lines) if line.rstrip() == "modules:")
    except StopIteration:
        return None
    end = start + 1
    while end < len(lines) and lines[end].lstrip().startswith("- "):
        if lines[end].strip() == f"- {match['module']}":
            return None
        end += 1
    indent = lines[start + 1][: len(lines[start + 1]) - len(lines[start + 1].lstrip())] if end > start + 1 else "  "
    lines.insert(end, f"{indent}- {match['module']}")
    return text, "\n".join(lines)


def check_draft(app, path: str, text: str) -> tuple[list, object]:
    """The problems ``text`` would have as ``path``, and its module version for the preview.

    The whole tree is checked with the same loader as ``flask content check``,
    on a temporary copy with the draft written in, so problems that span files
    (ids across languages, links, media) are found too.
    """
    file_of(app, path)
    content_root, media_root, forms_root, glossary_root = app_roots(app)
    with tempfile.TemporaryDirectory(prefix="lotsa-draft-") as folder:
        copy = Path(folder) / "modules"
        shutil.copytree(content_root, copy, ignore=shutil.ignore_patterns(".*"))
        _write(copy / path, text)
        listing = _listing_change(copy, path)
        if listing:
            _write(copy / PATH_RE.match(path)["programme"] / "programme.yaml", listing[1])
        catalogue = load_catalogue(copy, media_root, forms_root, glossary_root)
        target = str(copy / path)
        problems = [replace(p, path=path) for p in catalogue.problems if p.path == target]
        match = PATH_RE.match(path)
        programme = catalogue.programmes.get(match["programme"])
        module = programme.module(match["module"]) if programme else None
        version = module.versions.get(match["lang"]) if module else None
    return problems, version


def open_drafts() -> list[ContentDraft]:
    return list(db.session.scalars(select(ContentDraft).where(ContentDraft.status == "open")
                                   .order_by(ContentDraft.created_at)))


def drafts_for(path: str) -> list[ContentDraft]:
    return list(db.session.scalars(select(ContentDraft).where(ContentDraft.path == path,
                                                              ContentDraft.status == "open")))


def save_draft(app, path: str, text: str, message: str, author) -> ContentDraft:
    """Keep ``text`` as the author's draft of ``path`` (one open draft per author and file)."""
    file_of(app, path)
    text = text.replace("\r\n", "\n")
    if len(text) > MAX_TEXT:
        raise EditorError("too_long")
    draft = db.session.scalar(select(ContentDraft).where(ContentDraft.path == path, ContentDraft.status == "open",
                                                         ContentDraft.author_id == author.id))
    if draft is None:
        draft = ContentDraft(path=path, author=author, base_hash=sha(live_text(app, path)))
        db.session.add(draft)
    draft.text, draft.message = text, message.strip()[:500]
    draft.created_at = utcnow()
    db.session.flush()
    return draft


def diff_lines(old: str | None, new: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line): kind is 'add', 'del', 'hunk' or 'same'."""
    result = []
    before = old.split("\n") if old is not None else []
    for line in difflib.unified_diff(before, new.split("\n"), lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        result.append((kind, line))
    return result


def approve(app, draft: ContentDraft, reviewer) -> tuple[ContentRelease, Catalogue]:
    """Write an approved draft into the content tree and release it; the caller commits and swaps.

    Refused (EditorError) if the reviewer wrote the draft, if the live file
    changed since the draft was written, or if the content would have errors.
    """
    if draft.status != "open":
        raise EditorError("not_open")
    if draft.author_id == reviewer.id:
        raise EditorError("own_draft")
    old = live_text(app, draft.path)
    if sha(old) != draft.base_hash:
        raise EditorError("changed")
    problems, _version = check_draft(app, draft.path, draft.text)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise EditorError("errors", errors)
    root = Path(app.config["CONTENT_ROOT"])
    listing = _listing_change(root, draft.path)
    programme_path = f"{PATH_RE.match(draft.path)['programme']}/programme.yaml"
    _write(root / draft.path, draft.text)
    if listing:
        _write(root / programme_path, listing[1])
    release, catalogue = make_release(app, user=reviewer, note=draft.message or draft.path)
    if catalogue is None:
        # Another file has errors: put the tree back as it was, the live release stays.
        if old is None:
            (root / draft.path).unlink(missing_ok=True)
        else:
            _write(root / draft.path, old)
        if listing:
            _write(root / programme_path, listing[0])
        raise EditorError("release_refused")
    now = utcnow()
    db.session.add(ContentRevision(path=draft.path, old_text=old, new_text=draft.text, message=draft.message,
                                   author_id=draft.author_id, approved_by=reviewer, release=release, created_at=now))
    if listing:
        db.session.add(ContentRevision(path=programme_path, old_text=listing[0], new_text=listing[1],
                                       message=draft.message, author_id=draft.author_id, approved_by=reviewer,
                                       release=release, created_at=now))
    draft.status, draft.reviewed_by, draft.reviewed_at = "approved", reviewer, now
    return release, catalogue


def withdraw(draft: ContentDraft, user) -> None:
    if draft.status != "open":
        raise EditorError("not_open")
    draft.status, draft.reviewed_by, draft.reviewed_at = "withdrawn", user, utcnow()


def history(path: str) -> list[ContentRevision]:
    return list(db.session.scalars(select(ContentRevision).where(ContentRevision.path == path)
                                   .order_by(ContentRevision.id.desc())))


def revert(app, revision: ContentRevision, author) -> ContentDraft:
    """A draft that puts back the text from before ``revision`` (reviewed like any other)."""
    if revision.old_text is None or not PATH_RE.match(revision.path):
        raise EditorError("cannot_revert")
    return save_draft(app, revision.path, revision.old_text, f"Revert: {revision.message}"[:500], author)


def new_module_text(block_id: str, title: str, description: str, words: dict) -> str:
    """A module file from the template, in the editor's words for the placeholders."""
    return MODULE_TEMPLATE.format(title=title, description=description, block_id=block_id, **words)


def translation_text(source: str, source_version: int, lang: str) -> str:
    """A new translation starts as the source text, marked as translating its version."""
    front_end = source.find("\n---", 3)
    if not source.startswith("---") or front_end < 0:
        return source
    front = [line for line in source[:front_end].split("\n") if not line.startswith(("version:", "translates:"))]
    return "\n".join([*front, f"translates: {source_version}"]) + source[front_end:]


# --- media uploads ---------------------------------------------------------------------------------

# What each allowed file name ending must contain, judged by the bytes (never by the name),
# and the largest file of each kind.
MEDIA_LIMITS = {"audio": 50 * 1024 * 1024, "video": 200 * 1024 * 1024, "captions": 1024 * 1024,
                "image": 5 * 1024 * 1024}
SUFFIX_KIND = {".mp3": "audio", ".ogg": "audio", ".m4a": "audio", ".mp4": "video", ".webm": "video",
               ".vtt": "captions", ".png": "image", ".jpg": "image", ".jpeg": "image", ".webp": "image"}
MEDIA_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
NAME_RE = re.compile(r"^(?:[a-z]{2,3}|all|poster)\.(?:mp3|ogg|m4a|mp4|webm|vtt|png|jpe?g|webp)$")


def sniff(head: bytes) -> str | None:
    """The file's real format from its first bytes: a suffix from SUFFIX_KIND, or None."""
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    if head.startswith(b"OggS"):
        return ".ogg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return ".m4a" if brand in (b"M4A ", b"M4B ") else ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".webm"
    if head.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT"):
        return ".vtt"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return ".webp"
    return None


SAME_FORMAT = {".jpeg": ".jpg", ".m4a": ".mp4"}


def store_media(app, media_id: str, name: str, stream, size: int) -> Path:
    """Keep an uploaded media file under media/<media_id>/<name> if its bytes are what its name says.

    Never replaces a file that exists (live content changes through review);
    the file is served once media.yaml names it and a release is made.
    """
    if not MEDIA_ID_RE.match(media_id or "") or not NAME_RE.match(name or ""):
        raise EditorError("media_name")
    suffix = Path(name).suffix.lower()
    kind = SUFFIX_KIND[suffix]
    if size <= 0:
        raise EditorError("media_empty")
    if size > MEDIA_LIMITS[kind]:
        raise EditorError("media_too_big")
    head = stream.read(64)
    found = sniff(head)
    if found is None or SAME_FORMAT.get(found, found) != SAME_FORMAT.get(suffix, suffix):
        # An .mp4 container can hold sound only: accept it as .m4a and the reverse.
        raise EditorError("media_type")
    if kind == "captions":
        rest = stream.read(MEDIA_LIMITS["captions"])
        try:
            (head + rest).decode("utf-8")
        except UnicodeDecodeError:
            raise EditorError("media_type") from None
        data_iter = iter([head + rest])
    else:
        data_iter = iter(lambda: stream.read(1024 * 1024), b"")
    target = Path(app.config["MEDIA_ROOT"]) / media_id / name
    if target.exists():
        raise EditorError("media_exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{name}.{os.getpid()}.upload")
    written = 0
    with open(temporary, "wb") as handle:
        if kind != "captions":
            handle.write(head)
            written = len(head)
        for chunk in data_iter:
            written += len(chunk)
            if written > MEDIA_LIMITS[kind]:
                handle.close()
                temporary.unlink(missing_ok=True)
                raise EditorError("media_too_big")
            handle.write(chunk)
    os.replace(temporary, target)
    return target
