"""A care plan from the clinician's desk to the patient's phone and the printed summary."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader

from tests.e2e.helpers import log_in

pytestmark = pytest.mark.e2e


def test_plan_written_agreed_on_a_phone_printed_and_counted(browser, live_server, make, db, axe):
    from webapp.core.db import utcnow

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Kim Exempelsson")
    enrolment = make.enrolment(patient, unit, clinician, started_at=utcnow() - timedelta(days=5))
    staff_login, secret, patient_login, e = clinician.email, clinician.totp_secret, patient.email, enrolment.id
    db.session.close()

    staff = browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
    page = staff.new_page()
    page.set_default_timeout(10_000)
    log_in(page, live_server.url, staff_login, secret)
    page.wait_for_url("**/clinician/")

    page.goto(f"{live_server.url}/clinician/enrolments/{e}/care")
    page.get_by_role("link", name="Skriv eller ändra planen").click()
    axe(page, "care plan editor")
    goal1 = page.get_by_role("group", name="Mål 1")
    goal1.get_by_label("Det här är viktigt för mig").fill("Att orka vara med barnbarnen")
    goal1.get_by_label("Det här vill jag kunna göra").fill("Gå till lekparken och tillbaka")
    goal2 = page.get_by_role("group", name="Mål 2")
    goal2.get_by_label("Det här är viktigt för mig").fill("Mitt arbete")
    goal2.get_by_label("Det här vill jag kunna göra").fill("Arbeta halvtid till sommaren")
    activity = page.get_by_role("group", name="Aktivitet 1")
    activity.get_by_label("Vad").fill("Promenad tio minuter")
    activity.get_by_label("Vem som är ansvarig").select_option("patient")
    activity.get_by_label("När eller hur ofta").fill("varje dag")
    page.get_by_role("button", name="Spara som utkast").click()
    assert page.get_by_text("Utkastet är sparat.").is_visible()
    page.get_by_role("button", name="Dela planen med patienten").click()
    page.wait_for_url(f"**/clinician/enrolments/{e}/care#plan")
    assert page.get_by_text("Patienten har inte godkänt den ännu.").is_visible()

    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="sv-SE")
    mobile = phone.new_page()
    mobile.set_default_timeout(10_000)
    log_in(mobile, live_server.url, patient_login)
    mobile.wait_for_url("**/home")
    assert mobile.get_by_text("Gå till lekparken och tillbaka").is_visible()
    mobile.get_by_role("link", name="Läs, godkänn eller skriv ut min plan").click()
    axe(mobile, "patient's plan")
    mobile.get_by_role("button", name="Jag godkänner planen").click()
    assert mobile.get_by_text("Tack. Ditt godkännande av planen är sparat.").is_visible()
    overflow = mobile.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    mobile.goto(live_server.url + "/home")
    assert mobile.get_by_text("Du godkände planen").is_visible()

    mobile.goto(f"{live_server.url}/e/{e}/summary")
    mobile.emulate_media(media="print")
    text = " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(mobile.pdf(format="A4"))).pages).split())
    assert "Min vårdplan" in text and "Arbeta halvtid till sommaren" in text and "Promenad tio minuter" in text

    page.goto(live_server.url + "/admin/follow-up")
    indicator = page.locator("dt", has_text="Vårdplan godkänd inom 30 dagar från start").locator("xpath=following-sibling::dd[1]")
    # One patient: the follow-up never shows a figure about fewer than five (it could point at them).
    assert indicator.inner_text() == "< 5"
    staff.close()
    phone.close()
