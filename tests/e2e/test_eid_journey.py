"""e-ID and passkeys in a real browser.

The patient presses "Logga in med BankID / Freja eID Plus", logs in on the real
test provider's page and lands on the start page of the enrolment a clinician
opened; a clinician logs in through the staff provider and reaches the caseload
without the TOTP step; a patient without e-ID registers a passkey and logs in
with it (Chromium's virtual authenticator over CDP).
"""

from __future__ import annotations

import re

import pytest

from tests.fixtures.plugin import PASSWORD

pytestmark = pytest.mark.e2e

PNR_CLAIM = "https://id.oidc.se/claim/personalIdentityNumber"
HSA_CLAIM = "https://id.oidc.se/claim/employeeHsaId"


@pytest.fixture
def app_config(oidc_provider):
    return {"OIDC_CLIENTS": {"eid": oidc_provider.client_settings("patient"),
                             "siths": oidc_provider.client_settings("staff")}}


@pytest.fixture
def site(app, live_server):
    """The live server under the name ``localhost``: WebAuthn refuses IP addresses as relying party."""
    url = live_server.url.replace("127.0.0.1", "localhost")
    app.config["BASE_URL"] = url
    return url


def provider_login(page, sub: str) -> None:
    """On the provider's own page: the person says who they are and authorises."""
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/oauth2/authorize"))
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


def test_patient_and_clinician_log_in_with_eid(browser, site, app, db, make, oidc_provider, axe):
    from webapp.auth.services import send_invitation

    unit = make.unit(name="Vårdcentralen Björken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    clinician.hsa_id = "SE2321000016-1001"
    patient = make.user("patient", name="Tolvan Tolvansson", personal_number="191212121212", password=None)
    make.enrolment(patient, unit, clinician, status="invited", started_at=None)
    with app.test_request_context():
        send_invitation(patient, created_by=clinician)
    db.session.commit()
    db.session.close()
    oidc_provider.set_user("tolvan", {PNR_CLAIM: "191212121212", "acr": "http://id.elegnamnden.se/loa/1.0/loa3"})
    oidc_provider.set_user("elsa", {HSA_CLAIM: "SE2321000016-1001", "acr": "http://id.sambi.se/loa/loa3"})

    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="sv-SE").new_page()
    phone.set_default_timeout(10_000)
    phone.goto(site + "/auth/login")
    axe(phone, "login page with e-ID")
    phone.get_by_role("link", name=re.compile("BankID")).click()
    provider_login(phone, "tolvan")
    # The first login of an invited patient (e-ID accepts the invitation) starts the short introduction.
    phone.wait_for_url(site + "/welcome/about")
    phone.locator("form[action$='/welcome/done'] button").click()
    phone.wait_for_url(site + "/home")
    assert phone.get_by_role("heading", level=1).inner_text() == "Välkommen, Tolvan Tolvansson"
    assert phone.get_by_text("Digital smärtskola").first.is_visible()
    phone.goto(site + "/auth/account")
    assert phone.get_by_text("BankID / Freja eID Plus").first.is_visible()
    axe(phone, "account page with logins")

    laptop = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE").new_page()
    laptop.set_default_timeout(10_000)
    laptop.goto(site + "/auth/login")
    laptop.get_by_role("link", name=re.compile("SITHS")).click()
    provider_login(laptop, "elsa")
    laptop.wait_for_url(re.compile(r"^http://localhost:\d+/(clinician/)?$"))
    assert "/auth/two-factor" not in laptop.url
    laptop.goto(site + "/clinician/")
    assert laptop.get_by_role("link", name="Tolvan Tolvansson").first.is_visible()


def test_patient_registers_a_passkey_and_logs_in_with_it(page, site, db, make, axe):
    unit = make.unit()
    patient = make.user("patient", name="Kim Nyckel", totp=False)
    make.enrolment(patient, unit)
    email = patient.email
    db.session.close()

    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})["authenticatorId"]

    def password_step():
        page.goto(site + "/auth/login")
        page.get_by_label("E-postadress").fill(email)
        page.get_by_label("Lösenord").fill(PASSWORD)
        page.get_by_label("Lösenord").press("Enter")

    password_step()
    page.wait_for_url("**/auth/second-factor")
    axe(page, "second factor choice")
    page.locator("form[data-passkey=register] button").click()
    page.wait_for_url("**/home")
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1

    page.get_by_role("button", name="Logga ut").click()
    password_step()
    page.wait_for_url("**/auth/passkey")
    page.locator("form[data-passkey=login] button").click()
    page.wait_for_url("**/home")
    assert page.get_by_role("heading", level=1).inner_text() == "Välkommen, Kim Nyckel"
