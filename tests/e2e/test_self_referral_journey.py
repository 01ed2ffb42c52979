"""Self-referral in a real browser, with the real test e-ID provider.

A resident without an account opens a unit's programme, logs in with e-ID,
answers the screening questionnaire and sends the request; the clinician sees
it with its score on the unit's triage list and accepts it with a welcome
text; the resident's start page then shows the programme and that text. A
safety answer in the screening is an alert for the unit at once.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.e2e.helpers import log_in

pytestmark = pytest.mark.e2e

PNR_CLAIM = "https://id.oidc.se/claim/personalIdentityNumber"


@pytest.fixture
def app_config(oidc_provider):
    return {"OIDC_CLIENTS": {"eid": oidc_provider.client_settings("patient")}}


@pytest.fixture
def offer(db, make):
    from webapp.referrals.models import ReferralOffer

    unit = make.unit(name="Smärtmottagningen Ekdal")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    item = ReferralOffer(care_unit=unit, programme_id="pain-school", screening_forms="phq-9", is_open=True)
    db.session.add(item)
    db.session.commit()
    result = {"id": item.id, "clinician": clinician.email}
    db.session.close()
    return result


def _refer_oneself(page, site, oidc_provider, sub: str, pnr: str, name: str, q9: int) -> None:
    oidc_provider.set_user(sub, {PNR_CLAIM: pnr, "name": name, "acr": "http://id.elegnamnden.se/loa/1.0/loa3"})
    page.goto(site + "/referral/")
    page.get_by_role("link", name="Digital smärtskola").click()
    page.get_by_role("link", name=re.compile("Logga in med BankID")).click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/oauth2/authorize"))
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_url(re.compile(r".*/referral/\d+$"))
    page.get_by_label("Din e-postadress").fill(f"{sub}@example.se")
    page.get_by_role("button", name="Börja min anmälan").click()
    page.get_by_role("link", name=re.compile("PHQ-9")).click()
    for n in range(1, 9):
        page.locator(f"#q{n}-1").check()
    page.locator(f"#q9-{q9}").check()
    page.get_by_role("button", name="Skicka mina svar").click()
    page.wait_for_url(re.compile(r".*/referral/r/\d+$"))


def test_resident_refers_themselves_and_the_clinician_accepts(browser, live_server, app, db, offer, oidc_provider, axe):
    site_url = live_server.url
    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="sv-SE").new_page()
    phone.set_default_timeout(10_000)
    _refer_oneself(phone, site_url, oidc_provider, "tove", "199001012385", "Tove Invånare", q9=0)
    axe(phone, "self-referral request")
    phone.get_by_role("button", name="Skicka min anmälan till vårdenheten").click()
    assert phone.get_by_text("Väntar på vårdenheten").first.is_visible()
    phone.screenshot(path="/tmp/24s-resident-waiting.png", full_page=True)
    # Nothing else is reachable: the start page lists no programme yet.
    phone.goto(site_url + "/home")
    assert phone.get_by_text("Digital smärtskola").count() == 0

    laptop = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE").new_page()
    laptop.set_default_timeout(10_000)
    log_in(laptop, site_url, offer["clinician"])
    laptop.goto(site_url + "/clinician/triage")
    row = laptop.get_by_role("row", name=re.compile("Tove Invånare"))
    # Eight answers of 1 and a 0: PHQ-9 total 8, "Lindrig".
    assert re.search(r"PHQ-9.*: 8 \(Lindrig\)", row.inner_text())
    axe(laptop, "triage list")
    laptop.screenshot(path="/tmp/24s-clinician-triage.png", full_page=True)
    row.get_by_role("link", name="Tove Invånare").click()
    laptop.get_by_label("Godkänn: öppna programmet").check()
    laptop.get_by_label("Välkomsttext (när du godkänner)").fill("Välkommen till smärtskolan, vi hörs om en vecka!")
    laptop.screenshot(path="/tmp/24s-clinician-decide.png", full_page=True)
    laptop.get_by_role("button", name="Spara svaret").click()
    assert laptop.get_by_text("Ingen egenanmälan väntar.").is_visible()

    phone.goto(site_url + "/home")
    assert phone.get_by_text("Digital smärtskola").first.is_visible()
    assert phone.get_by_text("Välkommen till smärtskolan, vi hörs om en vecka!").first.is_visible()
    phone.screenshot(path="/tmp/24s-resident-home.png", full_page=True)


def test_a_safety_answer_in_the_screening_alerts_the_unit_at_once(page, live_server, app, db, offer, oidc_provider):
    from webapp.questionnaires.models import SafetyAlert

    site_url = live_server.url
    page.set_viewport_size({"width": 360, "height": 740})
    _refer_oneself(page, site_url, oidc_provider, "sam", "198112189876", "Sam Invånare", q9=2)
    # Before the request is even sent: the answer is an open alert of the unit, and the resident is told where to turn.
    assert page.get_by_text("ring 112").first.is_visible()
    db.session.remove()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SafetyAlert)
                                 .where(SafetyAlert.acknowledged_at.is_(None))) == 1
