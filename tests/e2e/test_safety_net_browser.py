"""The safety net on a phone and the programme guide on a laptop: the start page's advice on
where to get help, a PHQ-9 safety answer, and the guide shown when access is opened."""

from __future__ import annotations

import os

import pytest

from tests.e2e.helpers import log_in

pytestmark = pytest.mark.e2e

SHOTS = os.environ.get("LOTSA_SCREENSHOTS")  # a folder: save screenshots there to look at


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_patient_finds_help_on_the_start_page_and_after_a_safety_answer(app, browser, live_server, make, db, axe):
    from webapp.questionnaires.services import send_programme_measures

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Kim Exempelsson")
    enrolment = make.enrolment(patient, unit, clinician)
    send_programme_measures(enrolment, "start")  # PHQ-9 among them: the pain school's safety net
    db.session.commit()
    email = patient.email
    db.session.close()

    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="sv-SE").new_page()
    phone.set_default_timeout(10_000)
    log_in(phone, live_server.url, email)
    help_ = phone.get_by_role("region", name="Om du mår sämre")
    assert help_.get_by_text("inte hela tiden").is_visible()
    for number in ("112", "1177", "90101"):
        assert help_.locator(f'a[href="tel:{number}"]').first.is_visible()
    axe(phone, "start page with the advice")
    _shot(phone, "patient-home")

    # Module 1 says the same, in the same words, near its start.
    phone.get_by_role("link", name="Fortsätt: Introduktion och smärtfysiologi").click()
    box = phone.locator("main .crisis")
    assert box.get_by_text("inte hela tiden").is_visible() and box.locator('a[href="tel:90101"]').is_visible()
    axe(phone, "module 1 with the advice")
    _shot(phone, "patient-module-1")
    phone.goto(live_server.url + "/home")

    phone.get_by_role("link", name="PHQ-9 – nedstämdhet").click()
    for n in range(1, 10):
        question = phone.locator("main").get_by_role("group").nth(n - 1)
        question.get_by_label("Inte alls" if n < 9 else "Flera dagar").check()
    phone.get_by_role("button", name="Skicka mina svar").click()
    alert = phone.get_by_role("alert")
    assert alert.locator('a[href="tel:112"]').is_visible() and alert.locator('a[href="tel:90101"]').is_visible()
    assert alert.get_by_text("psykiatrisk akutmottagning").is_visible()
    axe(phone, "safety answer")
    _shot(phone, "patient-safety-answer")


def test_clinician_reads_the_guide_when_opening_access(browser, live_server, make, db, axe):
    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    email = clinician.email
    db.session.close()

    laptop = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE").new_page()
    laptop.set_default_timeout(10_000)
    log_in(laptop, live_server.url, email)
    laptop.goto(live_server.url + "/clinician/open")
    laptop.get_by_label("Personnummer").fill("19811218-9876")
    laptop.get_by_label("Program").select_option("pain-school")
    laptop.get_by_role("button", name="Fortsätt").click()
    guide = laptop.get_by_role("region", name="Vägledning för behandlaren: Digital smärtskola")
    for part in ("Vem programmet passar", "Vem det inte passar", "Så följer du upp",
                 "Om patientens svar väcker oro för säkerheten"):
        assert guide.get_by_role("heading", name=part).is_visible()
    axe(laptop, "open access with the guide")
    _shot(laptop, "clinician-open-access-guide")
