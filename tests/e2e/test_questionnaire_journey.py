"""PHQ-9 from the clinician to the patient's phone and back, with a safety answer."""

from __future__ import annotations

import pyotp
import pytest

from tests.e2e.helpers import log_in
from tests.fixtures.plugin import PASSWORD

pytestmark = pytest.mark.e2e


def test_phq9_with_a_safety_answer(app, browser, live_server, make, db, smtp_server, axe):
    from webapp.core.mail import SmtpMailer
    from webapp.notifications.services import Channels
    from webapp.scheduler import run_jobs

    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Kim Exempelsson")
    enrolment = make.enrolment(patient, unit, clinician)
    staff_login = (clinician.email, clinician.totp_secret)
    patient_email, enrolment_id = patient.email, enrolment.id
    db.session.close()

    staff = browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE").new_page()
    staff.set_default_timeout(10_000)
    staff.goto(live_server.url + "/auth/login")
    staff.get_by_label("E-postadress").fill(staff_login[0])
    staff.get_by_label("Lösenord").fill(PASSWORD)
    staff.get_by_role("button", name="Logga in").click()
    staff.get_by_label("Sexsiffrig kod").fill(pyotp.TOTP(staff_login[1]).now())
    staff.get_by_role("button", name="Fortsätt").click()
    staff.goto(f"{live_server.url}/clinician/enrolments/{enrolment_id}/outcomes")
    staff.get_by_label("Skicka ett formulär").select_option("phq-9")
    staff.get_by_role("button", name="Skicka", exact=True).click()
    assert staff.get_by_text("Formuläret är skickat").is_visible()

    with app.app_context():
        run_jobs(Channels(SmtpMailer("127.0.0.1", smtp_server.port, sender="lotsa@lotsa.example")))
    (mail,) = smtp_server.sink.bodies_to(patient_email)
    assert "PHQ" not in mail and "nedstämd" not in mail  # content-free

    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="sv-SE").new_page()
    phone.set_default_timeout(10_000)
    log_in(phone, live_server.url, patient_email)
    phone.get_by_role("link", name="PHQ-9 – nedstämdhet").click()
    axe(phone, "questionnaire")
    for n in range(1, 10):
        question = phone.locator("main").get_by_role("group").nth(n - 1)  # the header's menu is a group too
        question.get_by_label("Flera dagar" if n < 9 else "Mer än hälften av dagarna").check()
    phone.get_by_role("button", name="Skicka mina svar").click()
    assert phone.get_by_role("alert").get_by_text("112").count() >= 1
    assert phone.locator('a[href="tel:1177"]').first.is_visible()
    axe(phone, "urgent help")

    staff.goto(live_server.url + "/clinician/")
    # The row is first, marked in words (the badge) and not only by colour.
    first_row = staff.locator("table.caseload tbody tr").first
    assert "is-safety" in first_row.get_attribute("class") and first_row.locator(".flag-safety").is_visible()
    staff.goto(f"{live_server.url}/clinician/enrolments/{enrolment_id}/outcomes")
    chart = staff.locator("svg.chart")
    assert chart.is_visible()
    # 8 x 1 + 2 = 10: the moderate band, drawn in the chart.
    assert "10" in chart.inner_html() and "Måttlig" in chart.inner_html()
