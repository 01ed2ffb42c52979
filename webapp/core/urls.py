"""Links: absolute ones for e-mail and SMS, and redirect targets taken from requests.

Absolute links are built from BASE_URL, never from the request's Host header:
a forged Host would otherwise put an attacker's address into a password-reset
e-mail. Every redirect whose target comes from a request goes through
``safe_next``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import current_app, url_for


def external_url(endpoint: str, **values) -> str:
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


def url_for_ids(endpoint: str, name: str, **values) -> Callable[[int], str]:
    """``url_for(endpoint, name=id, **values)`` for any integer id, at the cost of one
    ``url_for``: a list of fifty rows builds its links by joining strings."""
    marker = "9" * 19  # an int route converter writes str(int): the marker appears once, as given
    head, found, tail = url_for(endpoint, **{name: int(marker)}, **values).partition(marker)
    if not found or marker in tail:
        raise ValueError(f"{endpoint}: {name} is not in the URL once")
    return lambda value: f"{head}{int(value)}{tail}"


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
