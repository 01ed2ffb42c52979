"""Drafts that survive a session expiry: what a person typed is never lost to a timeout.

A patient writes a long message, the idle timeout ends the session, they press
Send: without this, the login page comes and the text is gone. Instead, a POST
that meets an expired session (or a lost login) keeps its text fields here,
and the page the form was on offers them back after the next login.

The text is health information, so it is kept:
- encrypted (Fernet: AES and an HMAC) with a key that lives only in a cookie
  of this browser, so neither the database nor the cookie alone can read it;
- against that device (the row is found by a hash of the key), never in a URL;
- briefly (DRAFT_MINUTES), and taken once: restoring deletes it.
Passwords, codes and tokens are never kept.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, flash, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Index, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.datastructures import MultiDict

from webapp.core.db import UTCDateTime, utcnow
from webapp.core.urls import safe_next
from webapp.extensions import db

COOKIE = "lotsa_draft_key"
NEVER_KEPT = {"csrf_token", "password", "confirm", "code", "next", "token"}
MAX_BYTES = 200_000


class Draft(db.Model):
    """One kept form: for the page ``return_path`` on one device, encrypted."""

    __tablename__ = "draft"
    __table_args__ = (Index("ix_draft_device_path", "device_hash", "return_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_hash: Mapped[str] = mapped_column(String(64))
    return_path: Mapped[str] = mapped_column(String(500))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@dataclass
class Restored:
    """A draft given back: the form's action and its fields (several values per name allowed)."""

    action: str
    fields: MultiDict


def _device_key(create: bool) -> bytes | None:
    raw = request.cookies.get(COOKIE, "")
    if raw:
        try:
            Fernet(raw.encode())
            return raw.encode()
        except (ValueError, TypeError):
            pass
    if not create:
        return None
    key = Fernet.generate_key()
    g.new_draft_key = key  # set on the response by remember_device()
    return key


def _hash(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()


def _return_path() -> str:
    """The page the form was on: the same-site Referer, else the POST's own path."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        return safe_next(referrer.path) or request.path
    return request.path


def keep() -> str | None:
    """Keep this POST's text fields for the page it came from; returns that page's path (or None)."""
    fields = [(name, value) for name, value in request.form.items(multi=True)
              if name not in NEVER_KEPT and isinstance(value, str)]
    if request.is_json:
        body = request.get_json(silent=True) or {}
        fields += [(name, value) for name, value in body.items() if name not in NEVER_KEPT and isinstance(value, str)]
    if not any(value.strip() for _name, value in fields):
        return None
    payload = json.dumps({"action": request.path, "fields": fields}).encode()
    if len(payload) > MAX_BYTES:
        return None
    key = _device_key(create=True)
    now = utcnow()
    path = _return_path()
    db.session.execute(delete(Draft).where(Draft.expires_at <= now))
    db.session.execute(delete(Draft).where(Draft.device_hash == _hash(key), Draft.return_path == path))
    db.session.add(Draft(device_hash=_hash(key), return_path=path, ciphertext=Fernet(key).encrypt(payload),
                         created_at=now, expires_at=now + timedelta(minutes=current_app.config["DRAFT_MINUTES"])))
    db.session.commit()
    return path


def take(path: str | None = None) -> Restored | None:
    """The draft kept for this page on this device, removed as it is given back (None if none).

    Asked again in the same request, it gives the same answer: a page whose
    forms are drawn by several helpers can ask from each of them.
    """
    path = path or request.path
    given = g.setdefault("restored_drafts", {})
    if path not in given:
        given[path] = _take(path)
    return given[path]


def _take(path: str) -> Restored | None:
    key = _device_key(create=False)
    if key is None:
        return None
    row = db.session.scalar(select(Draft).where(Draft.device_hash == _hash(key), Draft.return_path == path,
                                                Draft.expires_at > utcnow()).order_by(Draft.id.desc()).limit(1))
    if row is None:
        return None
    db.session.execute(delete(Draft).where(Draft.id == row.id))
    try:
        data = json.loads(Fernet(key).decrypt(row.ciphertext))
    except (InvalidToken, ValueError):
        return None
    flash(_("You were logged out before it was sent, so we kept what you wrote. Check it and send it again."),
          "info")
    return Restored(action=data["action"], fields=MultiDict([tuple(pair) for pair in data["fields"]]))


def remember_device(response):
    """After a request that created a device key: set its cookie (HttpOnly, this site only)."""
    key = g.pop("new_draft_key", None)
    if key is not None:
        response.set_cookie(COOKIE, key.decode(), max_age=current_app.config["DRAFT_MINUTES"] * 60,
                            httponly=True, secure=current_app.config["SESSION_COOKIE_SECURE"], samesite="Lax")
    return response


def ask_to_log_in():
    """Flask-Login's unauthorized handler: keep a POST's text, then the login page (or 401 for scripts).

    After login the person comes back to the page the form was on, not to the
    POST's URL (which would answer "method not allowed").
    """
    path = keep() if request.method == "POST" else None
    wants_json = request.is_json or request.accept_mimetypes.best == "application/json"
    if wants_json:
        response = jsonify(error="login", kept=path is not None)
        response.status_code = 401
        return response
    manager = current_app.login_manager
    if path is not None:
        flash(_("You have been logged out. What you wrote is kept: log in to send it."), "info")
    elif manager.login_message:
        flash(str(manager.login_message), manager.login_message_category)
    back = path or (request.full_path.rstrip("?") if request.method == "GET" else None)
    return redirect(url_for(manager.login_view, next=back) if back else url_for(manager.login_view))


def init_drafts(app) -> None:
    """Unauthorized requests keep their drafts; responses set the device cookie when one was made."""
    app.login_manager.unauthorized_handler(ask_to_log_in)
    app.after_request(remember_device)
