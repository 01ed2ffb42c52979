"""Fingerprinted static files: ``url_for('static', ...)`` adds ``?v=<hash>``.

The hash is of the file's bytes, so a changed file gets a new URL. A request
that carries the current hash may be cached for a year without revalidation
(browsers and nginx); one without it, or with an old hash, gets a short cache
so a stale page still picks up new files soon.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Flask, request

YEAR_SECONDS = 365 * 24 * 3600
SHORT_SECONDS = 300


@lru_cache(maxsize=256)
def _fingerprint(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _lookup(folder: str, filename: str) -> str | None:
    root = Path(folder).resolve()
    path = (root / filename).resolve()
    if root not in path.parents or not path.is_file():
        return None
    # Keyed on mtime too, so a file edited while the app runs gets a new hash.
    return _fingerprint(str(path), path.stat().st_mtime_ns)


# Static files only change with a release, so production looks each one up once.
_released = lru_cache(maxsize=256)(_lookup)


def fingerprint(app: Flask, filename: str) -> str | None:
    """Short content hash of a file under the static folder, or None if there is no such file."""
    if app.config.get("CONTENT_AUTO_RELOAD") or app.debug:
        return _lookup(app.static_folder, filename)
    return _released(app.static_folder, filename)


def init_static(app: Flask) -> None:
    """Add the fingerprint to static URLs and long cache headers to fingerprinted responses."""

    @app.url_defaults
    def _add_fingerprint(endpoint, values):
        if endpoint == "static" and "v" not in values and "filename" in values:
            value = fingerprint(app, values["filename"])
            if value:
                values["v"] = value

    @app.after_request
    def _cache_static(response):
        if request.endpoint == "static" and response.status_code == 200:
            filename = (request.view_args or {}).get("filename", "")
            current = request.args.get("v")
            if current and current == fingerprint(app, filename):
                response.cache_control.public = True
                response.cache_control.max_age = YEAR_SECONDS
                response.cache_control.immutable = True
            else:
                response.cache_control.public = True
                response.cache_control.max_age = SHORT_SECONDS
        return response
