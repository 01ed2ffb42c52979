"""Links: absolute ones for e-mail and SMS, and redirect targets taken from requests.

Absolute links are built from BASE_URL, never from the request's Host header:
a forged Host would otherwise put an attacker's address into a password-reset
e-mail. Every redirect whose target comes from a request goes through
``safe_next``.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import current_app, url_for


def external_url(endpoint: str, **values) -> str:
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


def safe_next(target: str | None) -> str | None:
    """A path on this site to redirect to after a step, or None.

    Browsers drop tabs and line breaks inside a URL and read a backslash as a
    slash, so "/\\t/example.org" would leave the site once the browser has
    cleaned it: any control, format or space character refuses the target
    outright instead of being "cleaned" into something else.
    """
    if not target or len(target) > 2000:
        return None
    if any(unicodedata.category(ch)[0] in "CZ" for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
