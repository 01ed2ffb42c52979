"""e-ID login through OpenID Connect, against real providers on loopback ports.

``oidc_provider`` is oidc-provider-mock (real discovery, JWKS, authorization and
token endpoints); ``rogue_provider`` is a small real provider that issues the
deliberately bad tokens. Nothing of Authlib or HTTP is mocked: the test client
is the browser, ``requests`` presses the provider's "Authorize" button.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from webapp.auth.models import AuthToken, TokenPurpose, User, UserSession
from webapp.core.audit import AccessLogEntry

PNR_CLAIM = "https://id.oidc.se/claim/personalIdentityNumber"
PREVIOUS_CLAIM = "https://id.oidc.se/claim/previousCoordinationNumber"
HSA_CLAIM = "https://id.oidc.se/claim/employeeHsaId"
PATIENT_PNR = "191212121212"
COORDINATION_NUMBER = "191212721219"  # day + 60: a samordningsnummer
SITHS_ACR = "http://id.sambi.se/loa/loa3"


@pytest.fixture
def app_config(oidc_provider, rogue_provider):
    return {"OIDC_CLIENTS": {
        "eid": oidc_provider.client_settings("patient"),
        "siths": oidc_provider.client_settings("staff"),
        "rogue": rogue_provider.client_settings("patient"),
    }}


@pytest.fixture(autouse=True)
def english(auth):
    """Pages in English: the new sentences' Swedish comes with the catalogue merge (tr-16.json)."""
    auth.post("/language", {"locale": "en", "next": "/auth/login"}, "/auth/login")


def start(auth, provider: str, **args) -> str:
    """Follow the login page's e-ID link: the redirect to the provider's authorization endpoint."""
    response = auth.client.get(f"/auth/eid/{provider}", query_string=args)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.location


def back(client, location: str):
    """Follow the provider's redirect back to Lotsa's callback."""
    parts = urlsplit(location)
    assert parts.path.startswith("/auth/eid/"), location
    return client.get(f"{parts.path}?{parts.query}")


def eid_login(auth, client, oidc_provider, provider: str, sub: str, claims: dict):
    oidc_provider.set_user(sub, claims)
    return back(client, oidc_provider.login(start(auth, provider), sub))


def security_events(db, kind: str) -> list[AccessLogEntry]:
    return list(db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == f"security.{kind}")))


def latest_session(db, user) -> UserSession:
    return db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                              .order_by(UserSession.id.desc())).first()


def test_login_page_offers_the_configured_providers(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert "Log in with BankID / Freja eID Plus" in html
    assert "Log in with a SITHS card" in html
    assert html.index("Log in with BankID") < html.index('name="password"')


def test_login_page_without_providers_has_no_eid_buttons(app, client):
    app.config["OIDC_CLIENTS"] = {}
    html = client.get("/auth/login").get_data(as_text=True)
    assert "BankID" not in html and "SITHS" not in html


def test_authorization_request_uses_pkce_state_and_nonce(auth):
    query = parse_qs(urlsplit(start(auth, "eid")).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert "openid" in query["scope"][0].split()


def test_registered_patient_logs_in_with_eid(auth, client, db, make, oidc_provider):
    patient = make.user("patient", personal_number=PATIENT_PNR)
    unit = make.unit()
    make.enrolment(patient, unit)
    response = eid_login(auth, client, oidc_provider, "eid", "patient-1", {PNR_CLAIM: PATIENT_PNR, "acr": "http://id.elegnamnden.se/loa/1.0/loa3"})
    assert response.status_code == 302 and response.location.endswith("/")
    row = latest_session(db, patient)
    assert (row.method, row.provider, row.acr) == ("eid", "eid", "http://id.elegnamnden.se/loa/1.0/loa3")
    login_entry = db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "auth.login",
                                                                  AccessLogEntry.actor_id == patient.id)).one()
    assert "method=eid provider=eid acr=http://id.elegnamnden.se/loa/1.0/loa3" == login_entry.detail
    account = client.get("/auth/account").get_data(as_text=True)
    assert "Inloggningar" in account and "e-legitimation: BankID / Freja eID Plus" in account


def test_invited_patient_first_eid_login_accepts_the_invitation(app, auth, client, db, make, oidc_provider):
    from webapp.auth.services import send_invitation
    from webapp.programme.models import Enrolment

    clinician = make.user("clinician")
    patient = make.user("patient", personal_number=PATIENT_PNR, password=None)
    unit = make.unit()
    enrolment = make.enrolment(patient, unit, clinician, status="invited", started_at=None)
    with app.test_request_context():
        send_invitation(patient, created_by=clinician)
    db.session.commit()
    from webapp.notifications.models import OutboxItem
    from webapp.notifications.services import render

    mail = render(db.session.scalars(select(OutboxItem).where(OutboxItem.user_id == patient.id)).first())
    assert "e-ID (BankID or Freja eID Plus)" in mail.body or "BankID eller Freja eID Plus" in mail.body
    response = eid_login(auth, client, oidc_provider, "eid", "patient-2", {PNR_CLAIM: PATIENT_PNR})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).status == "active"
    assert db.session.scalar(select(AuthToken).where(AuthToken.user_id == patient.id,
                                                     AuthToken.purpose == TokenPurpose.INVITATION.value)).used_at


def test_personal_number_without_enrolment_or_invitation_gets_no_account(auth, client, db, oidc_provider):
    users_before = db.session.scalar(select(User.id).order_by(User.id.desc()))
    response = eid_login(auth, client, oidc_provider, "eid", "stranger", {PNR_CLAIM: "198112189876"})
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "You have no access to Lotsa yet" in html and "1177" in html
    assert db.session.scalar(select(User.id).order_by(User.id.desc())) == users_before
    assert db.session.scalar(select(User).where(User.personal_number == "198112189876")) is None
    [event] = security_events(db, "eid_refused")
    assert "no enrolment or invitation" in event.detail and "198112189876" not in event.detail
    assert client.get("/auth/account").status_code == 302  # not logged in


def test_patient_without_a_live_care_relation_is_refused(auth, client, db, make, oidc_provider):
    """A patient row whose enrolments are all closed, never invited, never logged in: no link."""
    patient = make.user("patient", personal_number=PATIENT_PNR, password=None)
    make.enrolment(patient, make.unit(), status="closed")
    response = eid_login(auth, client, oidc_provider, "eid", "p-closed", {PNR_CLAIM: PATIENT_PNR})
    assert response.status_code == 403
    assert latest_session(db, patient) is None


def test_coordination_number_then_personal_number_keeps_one_account(auth, client, db, make, oidc_provider):
    patient = make.user("patient", personal_number=COORDINATION_NUMBER)
    make.enrolment(patient, make.unit())
    first = eid_login(auth, client, oidc_provider, "eid", "p-coord", {PNR_CLAIM: COORDINATION_NUMBER})
    assert first.status_code == 302
    auth.logout()
    second = eid_login(auth, client, oidc_provider, "eid", "p-new",
                       {PNR_CLAIM: PATIENT_PNR, PREVIOUS_CLAIM: COORDINATION_NUMBER})
    assert second.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, patient.id).personal_number == PATIENT_PNR
    assert db.session.scalars(select(User).where(User.personal_number.in_([PATIENT_PNR, COORDINATION_NUMBER]))).all() \
        == [db.session.get(User, patient.id)]
    assert len(db.session.scalars(select(UserSession).where(UserSession.user_id == patient.id)).all()) == 2
    assert security_events(db, "identity_number_replaced")


def test_staff_with_siths_skip_totp_and_keep_the_acr(auth, client, db, make, oidc_provider):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    clinician.hsa_id = "SE2321000016-1001"
    db.session.commit()
    response = eid_login(auth, client, oidc_provider, "siths", "staff-1", {HSA_CLAIM: "SE2321000016-1001", "acr": SITHS_ACR})
    assert response.status_code == 302 and "two-factor" not in response.location
    assert client.get("/clinician/").status_code == 200
    row = latest_session(db, clinician)
    assert (row.method, row.provider, row.acr) == ("eid", "siths", SITHS_ACR)


def test_unknown_hsa_id_is_refused(auth, client, db, make, oidc_provider):
    make.user("clinician", units=[make.unit()])
    response = eid_login(auth, client, oidc_provider, "siths", "staff-x", {HSA_CLAIM: "SE2321000016-9999"})
    assert response.status_code == 403
    assert "No staff account has your HSA-id" in response.get_data(as_text=True)
    [event] = security_events(db, "eid_refused")
    assert "no staff account has this HSA-id" in event.detail
    assert client.get("/clinician/").status_code in (302, 403, 404)


def test_patient_identity_through_the_staff_provider_is_refused(auth, client, db, make, oidc_provider):
    patient = make.user("patient", personal_number=PATIENT_PNR)
    make.enrolment(patient, make.unit())
    response = eid_login(auth, client, oidc_provider, "siths", "p-as-staff", {PNR_CLAIM: PATIENT_PNR})
    assert response.status_code == 400
    assert latest_session(db, patient) is None


def test_wrong_state_is_refused(auth, client, db, make, oidc_provider):
    patient = make.user("patient", personal_number=PATIENT_PNR)
    make.enrolment(patient, make.unit())
    oidc_provider.set_user("p-state", {PNR_CLAIM: PATIENT_PNR})
    location = oidc_provider.login(start(auth, "eid"), "p-state")
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    response = client.get(f"{parts.path}?code={query['code'][0]}&state=forged-state")
    assert response.status_code == 400
    assert "The e-ID login did not go through" in response.get_data(as_text=True)
    [event] = security_events(db, "eid_refused")
    assert "state" in event.detail
    assert latest_session(db, patient) is None


@pytest.mark.parametrize(("mode", "reason"), [
    ("wrong_nonce", "claim nonce"),
    ("wrong_audience", "claim aud"),
    ("wrong_issuer", "claim iss"),
    ("expired", "expired"),
    ("unknown_key", "unknown key"),
    ("alg_none", "ID token"),
    ("hs256", "ID token"),
    ("no_id_token", "no ID token"),
])
def test_bad_id_tokens_are_refused(mode, reason, auth, client, db, make, rogue_provider):
    patient = make.user("patient", personal_number=PATIENT_PNR)
    make.enrolment(patient, make.unit())
    rogue_provider.claims = {PNR_CLAIM: PATIENT_PNR}
    rogue_provider.mode = mode
    import requests

    redirect = requests.get(start(auth, "rogue"), allow_redirects=False, timeout=5).headers["Location"]
    response = back(client, redirect)
    assert response.status_code == 400, mode
    html = response.get_data(as_text=True)
    assert "The e-ID login did not go through" in html and "could not confirm the answer" in html
    [event] = security_events(db, "eid_refused")
    assert event.detail.startswith("provider rogue: ") and reason in event.detail, event.detail
    assert latest_session(db, patient) is None


def test_the_rogue_provider_logs_in_when_its_token_is_good(auth, client, db, make, rogue_provider):
    """The refusals above are the token's fault, not the set-up's."""
    import requests

    patient = make.user("patient", personal_number=PATIENT_PNR)
    make.enrolment(patient, make.unit())
    rogue_provider.claims = {PNR_CLAIM: PATIENT_PNR}
    redirect = requests.get(start(auth, "rogue"), allow_redirects=False, timeout=5).headers["Location"]
    assert back(client, redirect).status_code == 302
    assert latest_session(db, patient).provider == "rogue"


def test_refusal_page_speaks_the_users_language(auth, client, db, make, rogue_provider):
    import requests

    auth.post("/language", {"locale": "ar", "next": "/auth/login"}, "/auth/login")
    rogue_provider.mode = "expired"
    redirect = requests.get(start(auth, "rogue"), allow_redirects=False, timeout=5).headers["Location"]
    html = back(client, redirect).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html


def test_logout_ends_the_provider_session_too(auth, client, db, make, oidc_provider):
    patient = make.user("patient", personal_number=PATIENT_PNR)
    make.enrolment(patient, make.unit())
    eid_login(auth, client, oidc_provider, "eid", "p-out", {PNR_CLAIM: PATIENT_PNR})
    response = auth.logout()
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # The page moves on by itself (meta refresh) to the provider's end-session endpoint.
    end_session = html.split('http-equiv="refresh" content="0;url=', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert end_session.startswith(f"{oidc_provider.issuer}/oauth2/end_session?")
    query = parse_qs(urlsplit(end_session).query)
    assert query["post_logout_redirect_uri"] == ["http://localhost/auth/login"]
    assert query["client_id"] == ["lotsa-patient"]
    assert latest_session(db, patient).revoked_at is not None


def test_password_logout_stays_local(auth, client, make):
    patient = make.user("patient")
    auth.login(patient)
    assert auth.logout().location.endswith("/auth/login")


def test_unknown_provider_is_404(auth, client):
    assert client.get("/auth/eid/nope").status_code == 404
    assert client.get("/auth/eid/nope/callback?code=x&state=y").status_code == 404


def test_eid_session_confirms_with_eid_before_export(auth, client, db, make, oidc_provider):
    from datetime import timedelta

    from sqlalchemy import update

    from webapp.core.db import utcnow

    patient = make.user("patient", personal_number=PATIENT_PNR, password=None)
    make.enrolment(patient, make.unit())
    eid_login(auth, client, oidc_provider, "eid", "p-fresh", {PNR_CLAIM: PATIENT_PNR})
    db.session.execute(update(UserSession).where(UserSession.user_id == patient.id)
                       .values(authenticated_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    response = client.get("/account/my-data.json")
    assert "/auth/reauthenticate" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert "Bekräfta med BankID / Freja eID Plus" in page and 'name="password"' not in page
    assert "/auth/eid/eid?next=/account/my-data.json&amp;reauth=1" in page
    location = start(auth, "eid", next="/account/my-data.json", reauth="1")
    assert parse_qs(urlsplit(location).query)["prompt"] == ["login"]
    back_again = back(client, oidc_provider.login(location, "p-fresh"))
    assert back_again.location.endswith("/account/my-data.json")
    assert client.get("/account/my-data.json").status_code == 200
    assert len(db.session.scalars(select(UserSession).where(UserSession.user_id == patient.id)).all()) == 1


def test_eid_reauthentication_by_another_person_is_refused(auth, client, db, make, oidc_provider):
    patient = make.user("patient", personal_number=PATIENT_PNR)
    other = make.user("patient", personal_number="198112189876")
    for person in (patient, other):
        make.enrolment(person, make.unit())
    eid_login(auth, client, oidc_provider, "eid", "p-one", {PNR_CLAIM: PATIENT_PNR})
    oidc_provider.set_user("p-two", {PNR_CLAIM: "198112189876"})
    response = back(client, oidc_provider.login(start(auth, "eid", reauth="1"), "p-two"))
    assert response.status_code == 400
    assert any("another person" in e.detail for e in security_events(db, "eid_refused"))
    assert latest_session(db, other) is None
