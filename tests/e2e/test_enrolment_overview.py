"""The clinician's week with one patient, in a real browser at 1280×800: the
overview in the first screen, the answers beside the feedback form, a template
inserted without JavaScript, and the feedback opening the next module."""

from __future__ import annotations

import pyotp
import pytest

from tests.fixtures.plugin import PASSWORD

pytestmark = pytest.mark.e2e


def test_overview_first_screen_then_feedback_with_a_template_opens_the_next_module(
        browser, live_server, make, db, axe):
    from datetime import timedelta

    from webapp.content.services import get_catalogue
    from webapp.core.db import utcnow
    from webapp.programme import services as journey

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Kim Exempelsson")
    enrolment = make.enrolment(patient, unit, clinician, started_at=utcnow() - timedelta(weeks=3))
    enrolment.opening = "after-feedback"
    module = get_catalogue().programmes["pain-school"].published_modules[0]
    for kind, block_id, items in module.answer_ids():
        journey.save_answer(enrolment, module, block_id, kind,
                            journey.clean_answer(kind, items, "Jag vill orka leka med barnbarnen.",
                                                 "5" if kind == "rating" else None, []), None)
    db.session.commit()
    email, secret, enrolment_id = clinician.email, clinician.totp_secret, enrolment.id
    db.session.close()

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE")
    page = context.new_page()
    page.goto(live_server.url + "/auth/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/auth/two-factor")
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/clinician/")

    base = f"{live_server.url}/clinician/enrolments/{enrolment_id}"
    page.goto(base)
    # What is new, the next step and the key facts are all within the first screen.
    for selector in (".overview-new", ".overview-next", ".overview-facts"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 800, f"{selector} ends at {box}"
    assert page.locator(".section-nav a").count() == 8  # with the reply to the referring unit
    new = page.locator(".overview-new").inner_text()
    assert "Introduktion och smärtfysiologi" in new
    axe(page, "enrolment overview")

    # The answers, with the feedback form beside them (not below) on a laptop.
    page.locator(".overview-next a.button").click()
    page.wait_for_url("**/answers")
    answers, panel = page.locator(".answers-list").bounding_box(), page.locator(".feedback-panel").bounding_box()
    assert panel["x"] > answers["x"] + answers["width"] - 1 and panel["y"] < 800
    assert page.locator(".summary-item.is-new .new-mark").count() >= 1
    # Insert the built-in weekly feedback: a plain form submit, in the patient's language.
    page.locator("#template").select_option("b-feedback")
    page.locator("button[name=insert]").click()
    text = page.locator("#body").input_value()
    assert text.startswith("Hej Kim!") and "Introduktion och smärtfysiologi" in text and "Elsa Exempel" in text
    assert page.locator("#open_next").is_checked()  # this enrolment opens modules after feedback
    axe(page, "answers and feedback")
    page.locator("#body").fill(text.replace("[Skriv din återkoppling här.]", "Fina mål!"))
    page.locator("button[name=send]").click()
    page.wait_for_url("**/answers")
    assert "Behandling och rehabilitering" in page.locator(".flashes").inner_text()
    assert page.locator(".summary-item.is-new").count() == 0  # read now
    page.goto(base + "/schedule")
    rows = page.locator(".schedule-table tbody tr")
    assert "öppen" in rows.nth(1).inner_text() and "öppen" not in rows.nth(2).inner_text()
    context.close()
