"""A patient's first week on a phone (360×740), in a real browser: the start page's
first screen, the menu by keyboard, the introduction after the invitation with a
mobile number confirmed by the code the SMS gateway received and e-mail notices
turned on, and the content-free e-mail a clinician's reply then produces."""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import unused_code
from tests.fixtures.plugin import PASSWORD

pytestmark = pytest.mark.e2e

PHONE = {"width": 360, "height": 740}


def _login(page, server, email):
    page.goto(server.url + "/auth/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("#password").press("Enter")
    if "/auth/two-factor" in page.url:  # the patient's second step: a code from their app
        page.locator("#code").fill(unused_code(email))
        page.locator("#code").press("Enter")
    page.wait_for_url("**/home")


@pytest.mark.parametrize("lang", ["sv", "ar"])
def test_start_page_first_screen_and_keyboard_menu(app, page, live_server, make, db, lang):
    from webapp.messages.services import post_as_staff
    from webapp.programme.models import ModuleProgress

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Tolvan Tolvansson", locale=lang)
    enrolment = make.enrolment(patient, unit, clinician, programme="pain-school",
                               welcome_text="Välkommen! " * 40)
    db.session.add(ModuleProgress(enrolment_id=enrolment.id, module_id="pain-physiology", pages_seen_mask=1,
                                  last_page=1))
    with app.test_request_context():
        post_as_staff(enrolment, clinician, "Hej Tolvan!")
    db.session.commit()
    email = patient.email
    db.session.close()

    page.set_viewport_size(PHONE)
    _login(page, live_server, email)
    assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
    # The next step is on the first screen: programme, progress and "continue".
    for element in (page.locator("h2").first, page.locator("progress").first, page.locator("a.continue")):
        box = element.bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
    # One menu button, with the unread count on it; the links hide behind it.
    button = page.locator("summary.menu-button")
    assert button.locator(".count").inner_text().startswith("1")
    nav = page.locator("nav.main-nav")
    assert not nav.is_visible()
    header = page.locator("header.site-header").bounding_box()
    assert header["height"] <= 80, header
    # Keyboard: Tab reaches the button (after the skip link and the brand), Enter opens, Enter closes.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('menu-button')")
    page.keyboard.press("Enter")
    assert nav.is_visible() and page.locator("details.menu").get_attribute("open") is not None
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('nav.main-nav') !== null")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    assert not nav.is_visible()
    # Escape closes it too, from inside the menu, and the focus goes back to the button.
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    assert not nav.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('menu-button')")
    # Nothing scrolls sideways on the narrowest phones.
    page.set_viewport_size({"width": 320, "height": 640})
    for path in ("/home", "/account/contact", "/welcome/notifications", "/account/my-data"):
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0, path
    # On a laptop the menu is a plain row of links, without the button.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_server.url + "/home")
    assert nav.is_visible() and not button.is_visible()


def test_introduction_confirms_the_mobile_and_turns_on_email_notices(app, browser, live_server, make, db,
                                                                    smtp_server, sms_gateway):
    from webapp.auth.models import TokenPurpose
    from webapp.auth.services import create_token
    from webapp.core.mail import SmtpMailer
    from webapp.core.sms import HttpSmsGateway
    from webapp.messages.services import post_as_staff
    from webapp.notifications.services import Channels
    from webapp.programme.models import Enrolment
    from webapp.scheduler import run_jobs

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", password=None, name="Kim Exempelsson", email="kim@lotsa.example")
    make.enrolment(patient, unit, clinician, programme="pain-school", status="invited")
    with app.test_request_context():
        token = create_token(patient, TokenPurpose.INVITATION)
    db.session.commit()
    patient_id = patient.id
    db.session.close()

    def deliver():
        with app.app_context():
            run_jobs(Channels(SmtpMailer("127.0.0.1", smtp_server.port, sender="lotsa@lotsa.example"),
                              HttpSmsGateway(sms_gateway.url, token="t")))

    context = browser.new_context(viewport=PHONE, locale="sv-SE")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/auth/invitation/{token}")
    page.get_by_label("Nytt lösenord").fill("en lång och säker fras")
    page.get_by_label("Upprepa det nya lösenordet").fill("en lång och säker fras")
    page.get_by_role("button", name="Spara lösenord").click()

    # Step 1: how Lotsa works and who reads what; the emergency numbers can be called.
    page.wait_for_url("**/welcome/about")
    assert page.get_by_text("Elsa Exempel").first.is_visible()
    assert page.locator('a[href="tel:112"]').is_visible() and page.locator('a[href="tel:1177"]').first.is_visible()
    page.locator(".step-actions a.button").click()

    # Step 2: the mobile number, confirmed with the code the SMS gateway received.
    page.wait_for_url("**/welcome/phone")
    page.locator("#phone").fill("070-174 06 05")
    page.locator("#phone").press("Enter")
    page.wait_for_url("**/welcome/phone*")
    deliver()
    (sms,) = [r["body"] for r in sms_gateway.requests if r["body"]["to"] == "+46701740605"]
    code = re.search(r"\b(\d{6})\b", sms["message"]).group(1)
    page.locator("#code").fill(code)
    page.locator("#code").press("Enter")
    page.wait_for_url("**/welcome/phone")
    assert page.get_by_text("+46701740605").first.is_visible()
    page.locator(".step-actions a.button").click()

    # Step 3: notices per kind, with what they will look like; e-mail for new messages.
    page.wait_for_url("**/welcome/notifications")
    # The SMS preview says nothing of who or what; the e-mail's (behind a disclosure) names the unit.
    previews = [page.locator(".preview").nth(i).text_content() for i in range(page.locator(".preview").count())]
    assert any("Vårdcentralen Ekbacken" in text for text in previews)
    assert page.locator("#new_message-sms").is_visible()  # the number is confirmed now
    page.locator("#new_message-email").check()
    page.locator("main form[method=post]:has(#new_message-email) button[type=submit]").click()

    # Step 4: language; then the start page.
    page.wait_for_url("**/welcome/language")
    page.locator("form[action$='/welcome/done'] button").click()
    page.wait_for_url("**/home")
    assert page.locator("a.continue").bounding_box()["y"] < PHONE["height"]

    # The clinician replies; the patient is told by e-mail that something is waiting, not what.
    with app.app_context():
        enrolment = db.session.query(Enrolment).filter_by(patient_id=patient_id).one()
        with app.test_request_context():
            post_as_staff(enrolment, enrolment.responsible_clinician, "Ditt knä låter bättre nu, fortsätt så.")
        db.session.commit()
    deliver()
    bodies = smtp_server.sink.bodies_to("kim@lotsa.example")
    told = [b for b in bodies if "nytt meddelande" in b.lower()]
    assert len(told) == 1, bodies
    assert "knä" not in told[0] and "Vårdcentralen Ekbacken" in told[0] and "Elsa Exempel" in told[0]
    context.close()
