"""Invitations, password reset, CSRF, rate limits and role guards."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import PASSWORD, Auth
from webapp.auth import services
from webapp.auth.models import AuthToken, TokenPurpose
from webapp.core.db import utcnow
from webapp.notifications.models import OutboxItem
from webapp.notifications.services import Channels, dispatch_due

NEW_PASSWORD = "a brand new passphrase"
LINK_RE = re.compile(r"http://localhost(/auth/[a-z]+/[A-Za-z0-9_\-]+)")


def _invite(app, db, user):
    with app.test_request_context(base_url=app.config["BASE_URL"]):
        services.send_invitation(user)
    db.session.commit()


def _deliver_and_read_link(app, smtp_server, address):
    from webapp.core.mail import SmtpMailer

    channels = Channels(mailer=SmtpMailer("127.0.0.1", smtp_server.port, sender=app.config["MAIL_FROM"]))
    assert dispatch_due(channels) >= 1
    bodies = smtp_server.sink.bodies_to(address)
    assert bodies, "no e-mail arrived"
    return LINK_RE.search(bodies[-1]).group(1)


def test_invitation_link_sets_password_once(app, client, db, make, smtp_server):
    patient = make.user("patient", password=None)
    _invite(app, db, patient)
    path = _deliver_and_read_link(app, smtp_server, patient.email)

    page = client.get(path)
    assert page.status_code == 200 and patient.email in page.get_data(as_text=True)
    auth = Auth(client, db)
    response = auth.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, path)
    assert response.status_code == 302
    # Logged in straight away; the first visit begins with the short introduction.
    assert client.get("/home").headers["Location"].endswith("/welcome")
    assert client.get("/welcome/about").status_code == 200

    auth.logout()
    second = client.get(path)
    assert second.status_code == 410
    assert "redan använts" in second.get_data(as_text=True)
    assert Auth(app.test_client(), db).login(patient, NEW_PASSWORD).status_code == 302


def test_expired_invitation_says_so(app, client, db, make):
    patient = make.user("patient", password=None)
    _invite(app, db, patient)
    token = db.session.scalars(select(AuthToken).where(AuthToken.user_id == patient.id)).one()
    token.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    raw_link = db.session.scalars(select(OutboxItem.payload)).first()
    path = LINK_RE.search(raw_link).group(1)
    response = client.get(path)
    assert response.status_code == 410
    assert "Länken gäller inte längre." in response.get_data(as_text=True)


def test_unknown_invitation_is_404(client):
    assert client.get("/auth/invitation/not-a-real-token").status_code == 404


def test_new_password_form_keeps_rules_clear(app, client, db, make):
    patient = make.user("patient", password=None)
    with app.test_request_context():
        raw = services.create_token(patient, TokenPurpose.INVITATION)
    db.session.commit()
    path = f"/auth/invitation/{raw}"
    auth = Auth(client, db)
    short = auth.post(path, {"password": "short", "confirm": "short"}, path).get_data(as_text=True)
    assert "Använd minst 10 tecken." in short
    mismatch = auth.post(path, {"password": NEW_PASSWORD, "confirm": "something else"}, path)
    assert "De två lösenorden är inte likadana." in mismatch.get_data(as_text=True)


def test_reset_flow_without_account_enumeration(app, client, db, make, smtp_server):
    patient = make.user("patient")
    auth = Auth(client, db)
    known = auth.post("/auth/reset", {"email": patient.email}, "/auth/reset").get_data(as_text=True)
    unknown = auth.post("/auth/reset", {"email": "nobody@lotsa.example"}, "/auth/reset").get_data(as_text=True)
    strip = lambda html: re.sub(r'value="[^"]*"', "", html)  # noqa: E731 - CSRF tokens differ
    assert strip(known) == strip(unknown)
    assert db.session.scalars(select(OutboxItem)).all()[0].address == patient.email
    assert len(db.session.scalars(select(OutboxItem)).all()) == 1  # nothing queued for the unknown address

    path = _deliver_and_read_link(app, smtp_server, patient.email)
    # Delivered items forget the link, so the token is not lying around in the outbox.
    assert db.session.scalars(select(OutboxItem.payload)).one() == "{}"
    response = auth.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, path)
    assert response.status_code == 302
    assert Auth(app.test_client(), db).login(patient, PASSWORD).status_code == 200  # old password fails
    assert Auth(app.test_client(), db).login(patient, NEW_PASSWORD).status_code == 302
    assert client.get(path).status_code == 410  # single use


def test_reset_ends_existing_sessions(app, client, db, make):
    patient = make.user("patient")
    auth = Auth(client, db)
    auth.login(patient)
    with app.test_request_context():
        raw = services.create_token(patient, TokenPurpose.RESET)
    db.session.commit()
    other = app.test_client()
    Auth(other, db).post(f"/auth/reset/{raw}", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                         f"/auth/reset/{raw}")
    assert client.get("/home").status_code == 302


def test_post_without_csrf_token_is_refused_with_a_friendly_page(client, make):
    patient = make.user("patient")
    response = client.post("/auth/login", data={"email": patient.email, "password": PASSWORD})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Sidan hade slutat gälla" in html
    assert patient.email in html  # what was typed is shown so it can be copied back
    assert PASSWORD not in html  # but never a password


def test_state_change_with_wrong_csrf_token_is_refused(client, auth, make):
    patient = make.user("patient")
    auth.login(patient)
    response = client.post("/auth/logout", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert client.get("/home").status_code == 200  # still logged in


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_login_is_rate_limited(client, auth, make):
    patient = make.user("patient")
    statuses = [
        auth.post("/auth/login", {"email": patient.email, "password": "wrong password"}, "/auth/login").status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429
    page = auth.post("/auth/login", {"email": patient.email, "password": PASSWORD}, "/auth/login")
    assert page.status_code == 429
    assert "För många försök" in page.get_data(as_text=True)


# Each role against a staff-only and a patient-only URL.
@pytest.mark.parametrize(
    "role, path, expected",
    [
        (None, "/home", 302),
        (None, "/clinician/", 302),
        (None, "/admin/", 302),
        ("patient", "/home", 200),
        ("patient", "/clinician/", 403),
        ("patient", "/admin/", 403),
        ("patient", "/content/", 403),
        ("clinician", "/home", 403),
        ("clinician", "/clinician/", 200),
        ("clinician", "/admin/", 403),
        ("editor", "/home", 403),
        ("editor", "/clinician/", 403),
        ("editor", "/content/", 200),
        ("admin", "/home", 403),
        ("admin", "/clinician/", 403),
        ("admin", "/admin/", 200),
        ("admin", "/admin/access-log", 200),
    ],
)
def test_role_guards(client, auth, make, role, path, expected):
    if role:
        auth.login(make.user(role, units=[make.unit()] if role in ("clinician", "admin") else []))
    assert client.get(path).status_code == expected


def test_reset_link_ignores_a_forged_host_header(app, db, make):
    patient = make.user("patient")
    # A request whose Host header an attacker chose: the link must still use BASE_URL.
    with app.test_request_context("/auth/reset", base_url="http://evil.example"):
        services.request_password_reset(patient.email)
    db.session.commit()
    payload = db.session.scalars(select(OutboxItem.payload)).one()
    assert "evil.example" not in payload and "http://localhost/auth/reset/" in payload
