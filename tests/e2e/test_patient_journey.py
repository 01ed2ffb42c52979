"""The patient journey on a phone, from invitation to a printed summary."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from tests.content.test_views import GOOD

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("app_config", [GOOD])]

ANSWER = "Jag tänker på min trädgård och att gå ut i den igen."


def test_invitation_to_printed_summary_on_a_phone(app, page, live_server, make, db, axe):
    from webapp.auth.models import TokenPurpose
    from webapp.auth.services import create_token

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", password=None, name="Kim Exempelsson")
    make.enrolment(patient, unit, clinician, programme="demo", welcome_text="Välkommen till programmet!")
    with app.test_request_context():
        token = create_token(patient, TokenPurpose.INVITATION)
    db.session.commit()
    db.session.close()

    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server.url}/auth/invitation/{token}")
    page.get_by_label("Nytt lösenord").fill("en lång och säker fras")
    page.get_by_label("Upprepa det nya lösenordet").fill("en lång och säker fras")
    page.get_by_role("button", name="Spara lösenord").click()
    page.wait_for_url("**/welcome/about")  # the short introduction (tests/e2e/test_first_week.py), skipped here
    page.locator("form[action$='/welcome/done'] button").click()

    # Start page: welcome text, clinician, progress at zero.
    page.wait_for_url("**/home")
    assert page.get_by_text("Välkommen till programmet!").is_visible()
    assert page.get_by_text("0 av 2 moduler klara").is_visible()
    axe(page, "start page")

    # Open module 1 and read its pages.
    page.get_by_role("link", name="Fortsätt: Introduktion").click()
    page.wait_for_url("**/intro/1")
    page.get_by_role("link", name="Nästa sida").click()
    page.wait_for_url("**/intro/2")
    axe(page, "module page with a reflection question")

    # Answer a reflection question: it saves itself while typing.
    field = page.get_by_label("Ditt svar")
    field.fill(ANSWER)
    status = page.locator("form[data-answer=intro-first-thought] .save-status")
    status.filter(has_text="Sparat").wait_for()
    page.reload()
    assert page.get_by_label("Ditt svar").input_value() == ANSWER

    # Tick a task item on the next page, then mark the module done.
    page.get_by_role("link", name="Nästa sida").click()
    page.wait_for_url("**/intro/3")
    page.get_by_label("Välj en dag").check()
    page.locator("form[data-answer=intro-walk] .save-status").filter(has_text="Sparat").wait_for()
    page.get_by_role("button", name="Markera modulen som klar").click()
    page.wait_for_url("**/e/*/")
    assert page.get_by_text("1 av 2 moduler klara").is_visible()
    assert page.locator("progress").get_attribute("value") == "1"

    # The summary shows the answer and prints as a clean document.
    page.get_by_role("link", name="Min sammanfattning").click()
    assert page.get_by_text(ANSWER).is_visible()
    assert page.get_by_role("button", name="Skriv ut / spara som pdf").is_visible()
    axe(page, "summary")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    squashed = " ".join(text.split())
    assert ANSWER in squashed
    assert "Kim Exempelsson" in squashed  # name in the print header
    assert "Logga ut" not in squashed and "Mitt konto" not in squashed  # no navigation
    assert "☑" in text or "Välj en dag" in squashed
