"""A clinician opens access for a new patient and later closes it, in a real browser."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.fixtures.plugin import PASSWORD

pytestmark = pytest.mark.e2e


def test_open_access_invite_follow_and_close(app, browser, live_server, make, db, smtp_server, axe):
    from webapp.core.mail import SmtpMailer
    from webapp.notifications.services import Channels
    from webapp.scheduler import run_jobs

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    email, secret = clinician.email, clinician.totp_secret
    db.session.close()

    staff = browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
    page = staff.new_page()
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/auth/login")
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.get_by_label("Sexsiffrig kod").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Fortsätt").click()
    page.wait_for_url("**/clinician/")
    axe(page, "caseload")

    # Register a new patient and open access with an edited welcome text and one module left out.
    page.get_by_role("link", name="Öppna tillgång för en patient").click()
    page.get_by_label("Personnummer").fill("19811218-9876")
    page.get_by_label("Program").select_option("pain-school")
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_label("Namn").fill("Kim Exempelsson")
    page.get_by_label("E-postadress").fill("kim@lotsa.example")
    page.get_by_label("Välkomsttext").fill("Hej Kim! Börja med första avsnittet när du har ork.")
    page.get_by_label("9. Familj och närstående").check()
    axe(page, "open access form")
    page.get_by_role("button", name="Öppna tillgång").click()
    page.wait_for_url("**/clinician/enrolments/*")
    assert page.get_by_text("Tillgången är öppnad").is_visible()
    axe(page, "enrolment page")

    # The scheduler delivers the invitation to the test SMTP server.
    with app.app_context():
        run_jobs(Channels(SmtpMailer("127.0.0.1", smtp_server.port, sender="lotsa@lotsa.example")))
    (invitation,) = smtp_server.sink.bodies_to("kim@lotsa.example")
    link = re.search(r"http://127\.0\.0\.1:\d+(/auth/invitation/\S+)", invitation).group(1)

    patient_context = browser.new_context(viewport={"width": 390, "height": 800}, locale="sv-SE")
    patient = patient_context.new_page()
    patient.set_default_timeout(10_000)
    patient.goto(live_server.url + link)
    patient.get_by_label("Nytt lösenord").fill("en lång och säker fras")
    patient.get_by_label("Upprepa det nya lösenordet").fill("en lång och säker fras")
    patient.get_by_role("button", name="Spara lösenord").click()
    patient.wait_for_url("**/welcome/about")  # the short introduction, skipped here
    patient.locator("form[action$='/welcome/done'] button").click()
    patient.wait_for_url("**/home")
    assert patient.get_by_text("Hej Kim! Börja med första avsnittet när du har ork.").is_visible()
    assert patient.get_by_text("0 av 9 moduler klara").is_visible()  # one of ten left out
    patient.get_by_role("link", name="Alla moduler").click()
    assert patient.get_by_text("Familj och närstående").count() == 0
    patient.get_by_role("link", name="Introduktion och smärtfysiologi").click()

    # The clinician sees the patient become active and start reading.
    page.reload()
    assert page.get_by_text("Aldrig").count() == 0  # last active is set now
    enrolment_url = page.url
    page.goto(enrolment_url + "/schedule")
    assert "1 / 6" in page.locator("table").first.inner_text()  # pages seen in module 1

    # The patient asks to hear about new messages by e-mail and writes to the clinician.
    patient.goto(live_server.url + "/account/notifications")
    patient.locator("#new_message-email").check()
    patient.get_by_role("button", name="Spara mina val").click()
    patient.goto(live_server.url + enrolment_url.split(live_server.url, 1)[1].replace("/clinician/enrolments/", "/e/")
                 + "/messages")
    patient.get_by_label("Nytt meddelande").fill("Hur länge ska jag läsa varje dag?")
    patient.get_by_role("button", name="Skicka").click()
    assert patient.get_by_text("Hur länge ska jag läsa varje dag?").is_visible()

    # The clinician finds it in the inbox and replies; the patient hears by e-mail, without the text.
    page.get_by_role("link", name="Inkorg").click()
    page.get_by_role("link", name="Kim Exempelsson").click()
    assert page.get_by_text("Hur länge ska jag läsa varje dag?").is_visible()
    axe(page, "staff message thread")
    page.get_by_label("Nytt meddelande").fill("En kvart om dagen räcker gott. Hör av dig om det blir för mycket.")
    page.get_by_role("button", name="Skicka", exact=True).click()
    assert page.get_by_text("En kvart om dagen räcker gott.").first.is_visible()
    with app.app_context():
        run_jobs(Channels(SmtpMailer("127.0.0.1", smtp_server.port, sender="lotsa@lotsa.example")))
    bodies = smtp_server.sink.bodies_to("kim@lotsa.example")
    told = [b for b in bodies if "nytt meddelande" in b.lower()]
    assert len(told) == 1 and "kvart" not in told[0] and "Hur länge" not in told[0]
    patient.reload()
    assert patient.get_by_text("En kvart om dagen räcker gott.").first.is_visible()
    page.goto(enrolment_url + "/settings")

    # Close access; the patient is blocked but keeps the summary.
    page.get_by_label("Orsak").fill("Programmet är avslutat")
    page.get_by_label("Ja, avsluta patientens tillgång").check()
    page.get_by_role("button", name="Avsluta tillgången").click()
    assert page.get_by_text("Tillgången är avslutad").is_visible()
    patient.reload()
    assert "Sidan finns inte" in patient.content()
    patient.goto(live_server.url + "/home")
    assert patient.get_by_text("Din tillgång till programmet har avslutats.").is_visible()
    staff.close()
    patient_context.close()
