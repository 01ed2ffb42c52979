"""Logging in and out, server-side sessions, timeouts and two-factor codes."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from tests.fixtures.plugin import PASSWORD, csrf_token_from
from webapp.auth.models import UserSession
from webapp.core.audit import AccessLogEntry
from webapp.core.db import utcnow


def test_patient_logs_in_and_out(client, auth, make, db):
    patient = make.user("patient")
    response = auth.login(patient)
    assert response.status_code == 302
    assert client.get("/home").status_code == 200
    actions = db.session.scalars(select(AccessLogEntry.action).where(AccessLogEntry.actor_id == patient.id)).all()
    assert "auth.login" in actions

    response = auth.logout()
    assert response.status_code == 302 and response.location.endswith("/auth/login")
    assert client.get("/home").status_code == 302  # back to the login page


def test_wrong_password_gives_clear_message_in_swedish(client, auth, make):
    patient = make.user("patient")
    response = auth.post("/auth/login", {"email": patient.email, "password": "wrong password"}, "/auth/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "E-postadressen eller lösenordet är fel." in html
    # The e-mail address the user typed is kept in the form.
    assert f'value="{patient.email}"' in html


def test_unknown_account_gets_the_same_message(client, auth):
    response = auth.post("/auth/login", {"email": "nobody@lotsa.example", "password": "whatever12"}, "/auth/login")
    assert "E-postadressen eller lösenordet är fel." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "email, password, message",
    [
        ("not-an-address", "x", "Skriv en e-postadress, till exempel namn@example.se."),
        ("a" * 250 + "@x.se", "x", "E-postadressen är för lång."),
        ("", "x", "Skriv din e-postadress."),
        ("someone@lotsa.example", "p" * 300, "Lösenordet är för långt."),
    ],
)
def test_malformed_login_input_gets_field_messages(auth, email, password, message):
    response = auth.post("/auth/login", {"email": email, "password": password}, "/auth/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in html
    assert 'aria-invalid="true"' in html


def test_logout_revokes_a_copied_session_cookie(app, client, auth, make):
    patient = make.user("patient")
    auth.login(patient)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value

    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert thief.get("/home").status_code == 200  # the copy works while the session lives

    auth.logout()
    assert thief.get("/home").status_code == 302  # and not after logout


def test_session_id_is_rotated_on_each_login(app, client, auth, make, db):
    patient = make.user("patient")
    auth.login(patient)
    first = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    auth.logout()
    auth.login(patient)
    second = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert first != second
    rows = db.session.scalars(select(UserSession).where(UserSession.user_id == patient.id)).all()
    assert len(rows) == 2 and len({r.token_hash for r in rows}) == 2


def test_log_out_everywhere_ends_other_devices(app, client, auth, make):
    patient = make.user("patient")
    auth.login(patient)
    other = app.test_client()
    from tests.fixtures.plugin import Auth

    Auth(other, make.db).login(patient)
    assert other.get("/home").status_code == 200
    auth.post("/auth/logout-everywhere")
    assert other.get("/home").status_code == 302
    assert client.get("/home").status_code == 302


def _age_session(db, user, **fields):
    row = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    for name, value in fields.items():
        setattr(row, name, value)
    db.session.commit()


def test_idle_timeout_logs_out_with_a_message(client, auth, make, db, app):
    patient = make.user("patient")
    auth.login(patient)
    idle = app.config["SESSION_IDLE_MINUTES"]
    _age_session(db, patient, last_seen_at=utcnow() - timedelta(minutes=idle - 1))
    assert client.get("/home").status_code == 200  # still inside the window
    _age_session(db, patient, last_seen_at=utcnow() - timedelta(minutes=idle + 1))
    response = client.get("/home", follow_redirects=True)
    assert "Du loggades ut eftersom du inte var aktiv" in response.get_data(as_text=True)


def test_absolute_lifetime_ends_an_active_session(client, auth, make, db):
    patient = make.user("patient")
    auth.login(patient)
    _age_session(db, patient, expires_at=utcnow() - timedelta(seconds=1), last_seen_at=utcnow())
    assert client.get("/home").status_code == 302


def test_stay_logged_in_moves_the_idle_clock(client, auth, make, db, app):
    patient = make.user("patient")
    auth.login(patient)
    idle = app.config["SESSION_IDLE_MINUTES"]
    _age_session(db, patient, last_seen_at=utcnow() - timedelta(minutes=idle - 1))
    response = auth.post("/auth/session/extend", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.get_json()["seconds_left"] > (idle - 1) * 60


def test_page_tells_the_browser_when_to_warn(client, auth, make, app):
    patient = make.user("patient")
    auth.login(patient)
    html = client.get("/home").get_data(as_text=True)
    assert 'data-session-warning="120"' in html
    import re

    seconds = int(re.search(r'data-session-seconds="(\d+)"', html).group(1))
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    assert idle - 5 <= seconds <= idle


# --- two-factor -------------------------------------------------------------


def _password_step(auth, user):
    return auth.post("/auth/login", {"email": user.email, "password": PASSWORD}, "/auth/login")


def test_staff_password_alone_does_not_log_in(client, auth, make):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    response = _password_step(auth, clinician)
    assert response.location.endswith("/auth/two-factor")
    assert client.get("/clinician/").status_code == 302


def test_staff_code_logs_in_and_reuse_is_refused(app, client, auth, make):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    code = pyotp.TOTP(clinician.totp_secret).now()
    _password_step(auth, clinician)
    response = auth.post("/auth/two-factor", {"code": code}, "/auth/two-factor")
    assert response.status_code == 302
    assert client.get("/clinician/").status_code == 200
    auth.logout()

    # The same code again, in a new login within its 30 seconds: refused.
    _password_step(auth, clinician)
    response = auth.post("/auth/two-factor", {"code": code}, "/auth/two-factor")
    assert response.status_code == 200
    assert "redan använts" in response.get_data(as_text=True)
    assert client.get("/clinician/").status_code == 302


def test_wrong_code_is_refused(client, auth, make):
    clinician = make.user("clinician", units=[make.unit()])
    _password_step(auth, clinician)
    response = auth.post("/auth/two-factor", {"code": "000000"}, "/auth/two-factor")
    assert response.status_code == 200
    assert client.get("/clinician/").status_code == 302


def test_first_staff_login_sets_up_two_factor(client, auth, make, db):
    editor = make.user("editor", totp=False)
    response = _password_step(auth, editor)
    assert response.location.endswith("/auth/two-factor/setup")
    page = client.get("/auth/two-factor/setup").get_data(as_text=True)
    assert client.get("/auth/two-factor/qr.svg").mimetype == "image/svg+xml"
    with client.session_transaction() as sess:
        # Nothing secret travels in the cookie: the page shows what the server derives.
        assert not any(len(str(v)) >= 32 and str(v).isupper() for v in sess.values())
    secret = re.search(r"\b([A-Z2-7]{4}(?: [A-Z2-7]{4}){7})\b", page).group(1).replace(" ", "")
    assert " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) in page
    response = client.post("/auth/two-factor/setup",
                           data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    db.session.refresh(editor)
    assert editor.totp_secret == secret
    assert client.get("/content/").status_code == 200


def test_pending_two_factor_expires(client, auth, make, app):
    clinician = make.user("clinician", units=[make.unit()])
    _password_step(auth, clinician)
    with client.session_transaction() as sess:
        sess["mfa_started"] -= app.config["MFA_PENDING_MINUTES"] * 60 + 1
    response = client.get("/auth/two-factor")
    assert response.status_code == 302 and response.location.endswith("/auth/login")


def test_password_is_rehashed_when_parameters_change(auth, make, db, monkeypatch):
    from argon2 import PasswordHasher

    from webapp.core import security

    patient = make.user("patient")
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    patient.password_hash = weak.hash(PASSWORD)
    db.session.commit()
    old_hash = patient.password_hash
    auth.login(patient)
    db.session.refresh(patient)
    assert patient.password_hash != old_hash
    assert security.password_hasher.check_needs_rehash(patient.password_hash) is False


@pytest.mark.parametrize("locale", ["ar", "fa", "en"])
def test_messages_after_logout_are_in_the_users_language(client, auth, make, db, app, locale):
    """The browser says Swedish; the account says otherwise: the login page after an idle
    expiry, and after logging out, speaks the account's language (issue 26)."""
    from flask_babel import force_locale, gettext

    patient = make.user("patient", locale=locale)
    headers = {"Accept-Language": "sv-SE,sv;q=0.9"}
    auth.login(patient)
    _age_session(db, patient, last_seen_at=utcnow() - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
    page = client.get("/home", headers=headers, follow_redirects=True).get_data(as_text=True)
    with app.test_request_context(), force_locale(locale):
        idle = gettext("You were logged out because you were inactive for a while. Please log in again.")
        out = gettext("You are logged out.")
    assert f'lang="{locale}"' in page and idle in page

    auth.login(patient)
    with client.session_transaction() as cookie:
        cookie.pop("locale", None)  # only the account knows the language now
    assert auth.logout().status_code == 302
    page = client.get("/auth/login", headers=headers).get_data(as_text=True)
    assert f'lang="{locale}"' in page and out in page
