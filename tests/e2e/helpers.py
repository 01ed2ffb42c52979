"""Steps several browser tests share."""

from __future__ import annotations

import pyotp

from tests.fixtures.plugin import PASSWORD


def log_in(page, base_url: str, email: str, secret: str | None = None) -> None:
    """Log in through the Swedish login page; staff also type their two-factor code."""
    page.goto(base_url + "/auth/login")
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    if secret:
        page.get_by_label("Sexsiffrig kod").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Fortsätt").click()
