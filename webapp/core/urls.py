"""Absolute links for e-mail and SMS.

Built from BASE_URL, never from the request's Host header: a forged Host would
otherwise put an attacker's address into a password-reset e-mail.
"""

from __future__ import annotations

from flask import current_app, url_for


def external_url(endpoint: str, **values) -> str:
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)
