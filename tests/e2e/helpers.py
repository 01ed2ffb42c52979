"""Steps several browser tests share."""

from __future__ import annotations

import time

import pyotp

from tests.fixtures.plugin import PASSWORD


def log_in(page, base_url: str, email: str, secret: str | None = None) -> None:
    """Log in through the Swedish login page, second step included (the code from the app).

    Without ``secret`` the account's own authenticator key is read from the
    database (patients' tests never had to pass one).
    """
    page.goto(base_url + "/auth/login")
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Logga in", exact=True).click()
    if "/auth/two-factor" not in page.url and not secret:
        return
    page.get_by_label("Sexsiffrig kod").fill(unused_code(email, secret))
    page.get_by_role("button", name="Fortsätt").click()


def unused_code(email: str, secret: str | None = None) -> str:
    """A code for a time step the account has not used yet (a code cannot be used twice)."""
    from sqlalchemy import select

    from webapp.auth.models import User
    from webapp.extensions import db

    db.session.expire_all()
    stored, last_step = db.session.execute(select(User.totp_secret, User.totp_last_step)
                                           .where(User.email == email)).one()
    db.session.close()  # the server must not wait for this read's transaction (SQLite)
    totp = pyotp.TOTP(secret or stored)
    step = int(time.time() // 30)
    for candidate in (step, step + 1, step - 1):
        if candidate > (last_step or 0):
            return totp.generate_otp(candidate)
    raise AssertionError("no unused two-factor step left in the window")


def is_patient(email: str) -> bool:
    from sqlalchemy import select

    from webapp.auth.models import User
    from webapp.extensions import db

    role = db.session.scalar(select(User.role).where(User.email == email))
    db.session.close()
    return role == "patient"
