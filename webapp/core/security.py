"""Password hashing, random tokens and HTTP security headers."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, request

# argon2id with the library's current defaults (RFC 9106 low-memory profile).
# When these change, verify_password() reports that the stored hash needs rehashing.
password_hasher = PasswordHasher()

# A valid hash of a random password, verified when the account does not exist so
# that a login for an unknown e-mail takes as long as one for a known e-mail.
_DUMMY_HASH = password_hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> tuple[bool, bool]:
    """Return (matches, needs_rehash). A missing hash never matches."""
    try:
        password_hasher.verify(stored_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False, False
    if stored_hash is None:
        return False, False
    return True, password_hasher.check_needs_rehash(stored_hash)


def new_token() -> str:
    """A URL-safe random token with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What we store for a token: its SHA-256 (tokens are random, so no salt needed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # No inline script anywhere: every script is a file under /static.
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def init_security_headers(app: Flask) -> None:
    """Add security headers to every response (a view that set one keeps its own)."""

    @app.after_request
    def _headers(response):
        h = response.headers
        # One pass over the response's headers, not one search per header added (every request).
        present = {name.lower() for name in h.keys()}
        for name, value in SECURITY_HEADERS + ((HSTS,) if request.is_secure else ()):
            if name.lower() not in present:
                h.add(name, value)
        # Pages can hold health data: never let a shared browser or proxy cache them.
        if request.endpoint != "static" and "cache-control" not in present:
            h["Cache-Control"] = "no-store"
        return response
