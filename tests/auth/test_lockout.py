"""Lock-out after repeated failed passwords or two-factor codes, per account.

After RATELIMIT_LOGIN_LOCKOUT failed passwords for one account name (or
RATELIMIT_OTP_LOCKOUT wrong codes for one staff account) the page says when to
try again, a right password or code is refused until then, and afterwards it
works again. The lock-out period is the default 15 minutes: the ``clock``
fixture moves time.time() forward instead of waiting. The per-minute limits are
raised out of the way here, except in the test about their page.
"""

from __future__ import annotations

import logging
import re
import time

import pyotp
import pytest
from limits import parse
from sqlalchemy import select

from tests.fixtures.plugin import PASSWORD
from webapp.core.audit import AccessLogEntry

NO_MINUTE_LIMITS = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_LOGIN": "1000 per minute",
    "RATELIMIT_LOGIN_ACCOUNT": "1000 per minute",
    "RATELIMIT_OTP": "1000 per minute",
    "RATELIMIT_OTP_ACCOUNT": "1000 per minute",
}
lockout = pytest.mark.parametrize("app_config", [NO_MINUTE_LIMITS])
# "try again in 15 minutes, at 3:04 PM" (English short time; Swedish would be 15:04).
RETRY_RE = re.compile(r"try again in (\d+) minutes?, at (\d{1,2}:\d{2}(?:\s?[AP]M)?)", re.IGNORECASE)


class Clock:
    """time.time() plus an offset that the test moves forward."""

    def __init__(self):
        self.offset = 0.0

    def move(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch):
    clock, real = Clock(), time.time
    # Everything that times the lock-out (the storage, Flask-Limiter, the code
    # steps, the pending two-factor step) calls time.time() through the module.
    monkeypatch.setattr(time, "time", lambda: real() + clock.offset)
    return clock


def _amount(app, key: str) -> int:
    return parse(app.config[key]).amount


def _english(auth) -> None:
    assert auth.post("/language", {"locale": "en", "next": "/auth/login"}).status_code == 302


def _login(auth, email: str, password: str):
    return auth.post("/auth/login", {"email": email, "password": password}, "/auth/login")


def _code(auth, code: str):
    return auth.post("/auth/two-factor", {"code": code}, "/auth/two-factor")


def _wrong_code(user) -> str:
    """A six-digit code that is not valid for any step near now."""
    totp, step = pyotp.TOTP(user.totp_secret), int(time.time() // 30)
    valid = {totp.generate_otp(s) for s in range(step - 3, step + 4)}
    return next(code for code in (f"{n:06d}" for n in range(1000)) if code not in valid)


def _events(db, action: str) -> list[AccessLogEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == action)))


def _no_email_in_logs(caplog, *emails: str) -> None:
    lines = [r.getMessage() for r in caplog.records if r.name == "lotsa.security"]
    assert lines, "no security events were logged"
    for email in emails:
        assert not [line for line in lines if email in line or "@" in line], lines


@lockout
def test_password_lockout_refuses_the_right_password_says_when_and_ends(client, auth, db, make, app, clock, caplog):
    caplog.set_level(logging.INFO, logger="lotsa.security")
    patient = make.user("patient")
    allowed = _amount(app, "RATELIMIT_LOGIN_LOCKOUT")
    _english(auth)

    answers = [_login(auth, patient.email, "wrong password") for _ in range(allowed)]
    assert [a.status_code for a in answers] == [200] * allowed
    assert "Too many failed logins" not in answers[-2].get_data(as_text=True)
    assert "Too many failed logins for this account" in answers[-1].get_data(as_text=True)  # the last try says so

    refused = _login(auth, patient.email, PASSWORD)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "Too many attempts" in html and "Too many failed logins for this account" in html
    minutes, at = RETRY_RE.search(html).groups()
    assert minutes == "15" and at
    assert 14 * 60 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert patient.email in html and PASSWORD not in html  # what was typed stays, never the password
    assert client.get("/home").status_code == 302  # not logged in

    locked = _events(db, "security.account_locked")
    assert [(e.actor_id, e.detail.split(" ")[0]) for e in locked] == [(patient.id, "password")]
    assert [e.actor_id for e in _events(db, "security.attempt_while_locked")] == [patient.id]
    assert all("@" not in (e.detail or "") for e in locked)
    _no_email_in_logs(caplog, patient.email)

    clock.move(14 * 60)
    assert _login(auth, patient.email, PASSWORD).status_code == 429  # still locked a minute before the end
    clock.move(60 + 1)
    # The password is let through again: on to the second step (the code from the app).
    after = _login(auth, patient.email, PASSWORD)
    assert after.status_code == 302 and after.location.endswith("/auth/two-factor")


@lockout
def test_swedish_page_says_when_in_swedish(auth, make, app):
    patient = make.user("patient")
    for _ in range(_amount(app, "RATELIMIT_LOGIN_LOCKOUT")):
        _login(auth, patient.email, "wrong password")
    html = _login(auth, patient.email, PASSWORD).get_data(as_text=True)
    assert "För många försök" in html
    # The duration comes from the catalogue ("15 minuter"), the time in Swedish style (24 h).
    assert re.search(r"om 15 minuter, klockan \d{2}:\d{2}\.", html), html


@lockout
def test_a_name_without_an_account_locks_in_the_same_way(auth, db, make, app, caplog):
    caplog.set_level(logging.INFO, logger="lotsa.security")
    make.user("patient")  # someone exists; the name tried below does not
    allowed = _amount(app, "RATELIMIT_LOGIN_LOCKOUT")
    _english(auth)
    statuses = [_login(auth, "nobody@lotsa.example", "wrong password").status_code for _ in range(allowed + 1)]
    assert statuses == [200] * allowed + [429]
    assert "Too many failed logins for this account" in _login(auth, "nobody@lotsa.example", "x").get_data(as_text=True)
    locked = _events(db, "security.account_locked")
    assert [e.actor_id for e in locked] == [None] and "unknown account" in locked[0].detail
    _no_email_in_logs(caplog, "nobody@lotsa.example")


@lockout
def test_a_right_password_clears_the_failures_before_it(client, auth, make, app):
    patient = make.user("patient")
    allowed = _amount(app, "RATELIMIT_LOGIN_LOCKOUT")
    for _round in range(2):
        assert {_login(auth, patient.email, "wrong").status_code for _ in range(allowed - 1)} == {200}
        assert _login(auth, patient.email, PASSWORD).status_code == 302
        auth.logout()
    assert client.get("/home").status_code == 302


@lockout
def test_two_factor_lockout_refuses_the_right_code_survives_a_new_login_and_ends(client, auth, db, make, app, clock,
                                                                                 caplog):
    caplog.set_level(logging.INFO, logger="lotsa.security")
    clinician = make.user("clinician", units=[make.unit()])
    allowed = _amount(app, "RATELIMIT_OTP_LOCKOUT")
    _english(auth)
    assert _login(auth, clinician.email, PASSWORD).location.endswith("/auth/two-factor")

    wrong = _wrong_code(clinician)
    answers = [_code(auth, wrong) for _ in range(allowed)]
    assert [a.status_code for a in answers] == [200] * allowed
    assert "Too many wrong codes for this account" in answers[-1].get_data(as_text=True)

    refused = _code(auth, auth.next_code(clinician))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "Too many wrong codes for this account" in html
    assert RETRY_RE.search(html).group(1) == "15"
    assert client.get("/clinician/").status_code == 302  # not logged in
    # The code page says so before a code is typed, also after logging in again:
    # a right password does not clear the code failures.
    assert "Too many wrong codes" in client.get("/auth/two-factor").get_data(as_text=True)
    assert _login(auth, clinician.email, PASSWORD).status_code == 302
    assert _code(auth, auth.next_code(clinician)).status_code == 429

    assert [e.actor_id for e in _events(db, "security.two_factor_failed")] == [clinician.id] * allowed
    locked = _events(db, "security.account_locked")
    assert [(e.actor_id, e.detail.split(" ")[0]) for e in locked] == [(clinician.id, "two_factor")]
    _no_email_in_logs(caplog, clinician.email)

    clock.move(15 * 60 + 1)  # the pending password step has expired too: log in again
    assert _login(auth, clinician.email, PASSWORD).location.endswith("/auth/two-factor")
    assert _code(auth, auth.next_code(clinician)).status_code == 302
    assert client.get("/clinician/").status_code == 200


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_the_per_minute_limit_page_keeps_the_address_and_says_when(auth, make, app):
    patient = make.user("patient")
    allowed = min(_amount(app, "RATELIMIT_LOGIN_ACCOUNT"), _amount(app, "RATELIMIT_LOGIN"))
    _english(auth)
    statuses = [_login(auth, patient.email, "wrong password").status_code for _ in range(allowed)]
    assert statuses == [200] * allowed
    refused = _login(auth, patient.email, "wrong password")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "Too many attempts" in html and "You have tried many times in a short while" in html
    assert RETRY_RE.search(html).group(1) == "1"
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    assert f'value="{patient.email}"' in html  # the e-mail address is still in the field
    assert "wrong password" not in html


@pytest.mark.parametrize("app_config", [{**NO_MINUTE_LIMITS, "RATELIMIT_OTP_ACCOUNT": "5 per minute",
                                         "RATELIMIT_OTP_LOCKOUT": "100 per 15 minutes"}])
def test_codes_are_limited_per_account_whatever_the_address(auth, make, app):
    clinician = make.user("clinician", units=[make.unit()])
    _login(auth, clinician.email, PASSWORD)
    wrong = _wrong_code(clinician)
    statuses = [
        auth.post("/auth/two-factor", {"code": wrong}, "/auth/two-factor",
                  environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}).status_code
        for n in range(1, 8)
    ]
    assert statuses == [200] * 5 + [429] * 2
