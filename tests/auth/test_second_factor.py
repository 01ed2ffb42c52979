"""A patient's local login takes a second factor too: a code from an app or a passkey."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from tests.fixtures.plugin import PASSWORD
from webapp.auth.models import UserSession


def password_step(auth, user):
    return auth.post("/auth/login", {"email": user.email, "password": PASSWORD}, "/auth/login")


def test_patient_cannot_finish_login_without_the_second_factor(auth, client, db, make):
    patient = make.user("patient")
    make.enrolment(patient, make.unit())
    response = password_step(auth, patient)
    assert response.status_code == 302 and response.location.endswith("/auth/two-factor")
    # The password alone opens nothing.
    assert "/auth/login" in client.get("/home").location
    assert db.session.scalar(select(UserSession.id).where(UserSession.user_id == patient.id)) is None
    wrong = auth.post("/auth/two-factor", {"code": "000000"}, "/auth/two-factor")
    assert wrong.status_code == 200
    assert "/auth/login" in client.get("/home").location
    right = auth.post("/auth/two-factor", {"code": auth.next_code(patient)}, "/auth/two-factor")
    assert right.status_code == 302
    assert client.get("/home").status_code == 200
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == patient.id))
    assert row.method == "password+totp"


def test_first_local_login_sets_up_a_second_factor(auth, client, db, make):
    patient = make.user("patient", totp=False)
    make.enrolment(patient, make.unit())
    response = password_step(auth, patient)
    assert response.location.endswith("/auth/second-factor")
    page = client.get("/auth/second-factor").get_data(as_text=True)
    assert 'data-passkey="register"' in page and "/auth/two-factor/setup" in page
    setup = client.get("/auth/two-factor/setup").get_data(as_text=True)
    assert "Personalkonton" not in setup and "Staff accounts" not in setup  # the patients' wording
    secret = "".join(setup.split('class="secret" translate="no">', 1)[1].split("<", 1)[0].split())
    done = auth.post("/auth/two-factor/setup", {"code": pyotp.TOTP(secret).now()}, "/auth/two-factor/setup")
    assert done.status_code == 302
    assert client.get("/home").status_code == 200
    db.session.refresh(patient)
    assert patient.totp_secret == secret


def test_passkey_endpoints_refuse_without_a_login_step(auth, client):
    assert auth.post("/auth/passkey/login/options", {}, "/auth/login").status_code == 403
    assert auth.post("/auth/passkey/login", {}, "/auth/login").status_code == 403
    assert client.get("/auth/passkey").status_code == 302


def test_a_forged_passkey_assertion_is_refused(auth, client, db, make):
    from webapp.auth.models import Passkey

    patient = make.user("patient")
    db.session.add(Passkey(user_id=patient.id, credential_id=b"cred-1", public_key=b"not-a-key", sign_count=0))
    db.session.commit()
    assert password_step(auth, patient).location.endswith("/auth/passkey")
    token = auth.token("/auth/passkey")
    options = client.post("/auth/passkey/login/options", headers={"X-CSRFToken": token}, json={})
    assert options.status_code == 200 and options.get_json()["allowCredentials"][0]["id"] == "Y3JlZC0x"
    forged = {"id": "Y3JlZC0x", "rawId": "Y3JlZC0x", "type": "public-key",
              "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"}}
    refused = client.post("/auth/passkey/login", headers={"X-CSRFToken": token}, json=forged)
    assert refused.status_code == 400
    assert "/auth/login" in client.get("/home").location


@pytest.mark.parametrize("configured", [True, False])
def test_a_unit_can_require_eid(configured, app, auth, client, db, make):
    if configured:
        app.config["OIDC_CLIENTS"] = {"eid": {"audience": "patient", "issuer": "http://127.0.0.1:9",
                                              "client_id": "x", "client_secret": "y", "scopes": "openid",
                                              "metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}}
    auth.post("/language", {"locale": "en", "next": "/auth/login"}, "/auth/login")
    unit = make.unit()
    unit.requires_eid = True
    patient = make.user("patient")
    make.enrolment(patient, unit)
    response = password_step(auth, patient)
    if configured:
        assert response.status_code == 200
        assert "Your care unit asks you to log in with e-ID" in response.get_data(as_text=True)
        assert db.session.scalar(select(UserSession.id).where(UserSession.user_id == patient.id)) is None
    else:  # no e-ID provider to send them to: the local login still works
        assert response.location.endswith("/auth/two-factor")
