"""The reply to the referring unit: written on the enrolment page, printed to PDF, read on the patient's phone."""

from __future__ import annotations

import io
import os

import pytest
from pypdf import PdfReader

from tests.e2e.helpers import log_in
from tests.replies.data import two_patients

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("LOTSA_SCREENSHOTS")  # a folder: where to keep the pages for a person to look at


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_reply_written_printed_and_read(browser, live_server, make, db, axe):
    data = two_patients(make, db)
    clinician, e = data["clinician"], data["e"].id
    staff_login, secret, patient_login = clinician.email, clinician.totp_secret, data["patient"].email
    other_name, other_pnr = data["other"].full_name, data["other"].personal_number
    before, after = f"{data['before']:g}", f"{data['after']:g}"
    db.session.close()

    staff = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE")
    page = staff.new_page()
    log_in(page, live_server.url, staff_login, secret)
    page.wait_for_url("**/clinician/")
    page.goto(f"{live_server.url}/clinician/enrolments/{e}")
    page.get_by_role("navigation", name="Delar av inskrivningen").get_by_role("link", name="Remissvar").click()
    axe(page, "reply editor")
    assert f"före {before}" in page.get_by_label("Formulär, före och efter").input_value()
    page.get_by_label("Till (remitterande enhet och läkare eller behandlare)").fill("Vårdcentralen Norr, dr Berg")
    page.get_by_label("Rekommendationer").fill("Fortsätt med graderad träning två gånger i veckan.")
    _shot(page, "reply-editor-1280")
    page.get_by_role("button", name="Spara och visa för utskrift").click()
    page.wait_for_url(f"**/clinician/enrolments/{e}/reply/1")
    axe(page, "reply for printing")
    _shot(page, "reply-print-1280")
    page.emulate_media(media="print")
    text = " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(page.pdf(format="A4"))).pages).split())
    assert f"före {before}" in text and f"senast {after}" in text
    assert "Promenera till lekparken" in text and "Graderad träning" in text and "Uppföljning av träningen" in text
    assert "Fortsätt med graderad träning två gånger i veckan." in text and "Vårdcentralen Norr" in text
    assert other_name not in text and other_pnr[:8] not in text.replace("-", "")
    page.emulate_media(media="screen")
    page.goto(f"{live_server.url}/clinician/")
    page.get_by_role("link", name="Export till andra system: FHIR och smärtregistret").click()
    axe(page, "exports")
    assert page.get_by_text("Lotsa skickar inte in något").is_visible()
    _shot(page, "exports-1280")
    staff.close()

    patient_id = data["patient"].id
    for locale in ("sv", "ar"):
        if locale == "ar":  # the same patient, reading Arabic: the reply stays Swedish, marked as such
            from webapp.auth.models import User
            db.session.get(User, patient_id).locale = "ar"
            db.session.commit()
            db.session.close()
        phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="sv-SE")
        mobile = phone.new_page()
        log_in(mobile, live_server.url, patient_login)
        mobile.wait_for_url("**/home")
        if locale == "sv":
            mobile.get_by_role("link", name="Läs svaret som ditt vårdteam skrev till enheten som remitterade dig").click()
        else:
            mobile.get_by_role("link", name="اقرأ الرد الذي كتبه فريق رعايتك إلى الوحدة التي أحالتك").click()
        mobile.wait_for_url(f"**/e/{e}/reply")
        axe(mobile, f"patient's reply ({locale})")
        assert mobile.get_by_text("Fortsätt med graderad träning två gånger i veckan.").is_visible()
        assert mobile.locator(".answer-text").first.get_attribute("lang") == (None if locale == "sv" else "sv")
        overflow = mobile.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        _shot(mobile, f"reply-patient-360-{locale}")
        phone.close()
