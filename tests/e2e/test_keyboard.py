"""Keyboard only, no mouse: from the login page to a saved answer, with the focus
always visible."""

from __future__ import annotations

import pytest

from tests.content.test_views import GOOD
from tests.e2e.helpers import unused_code
from tests.fixtures.plugin import PASSWORD

# The small "demo" programme of the content test fixtures.
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("app_config", [GOOD])]

ANSWER = "Jag skriver det här med bara tangentbordet."


def _tab_to(page, test: str, what: str, limit: int = 80) -> None:
    """Press Tab until ``test`` (a JS expression over ``el``, the focused element) holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!el && ({test}); }})()"):
            style = page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                                  " return [s.outlineStyle, s.outlineWidth, s.boxShadow]; })()")
            assert style[0] != "none" or style[2] != "none", f"no visible focus on {what}"
            return
    raise AssertionError(f"could not reach {what} with Tab")


def test_login_to_saved_answer_without_a_mouse(page, live_server, make, db):
    unit = make.unit()
    patient = make.user("patient", name="Kim Tangentbord")
    make.enrolment(patient, unit, programme="demo")
    email = patient.email
    db.session.close()

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_server.url + "/auth/login")
    _tab_to(page, "el.id === 'email'", "the e-mail field")
    page.keyboard.type(email)
    _tab_to(page, "el.id === 'password'", "the password field")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/auth/two-factor")  # the second step: the code from the app, typed too
    _tab_to(page, "el.id === 'code'", "the code field")
    page.keyboard.type(unused_code(email))
    page.keyboard.press("Enter")
    page.wait_for_url("**/home")

    _tab_to(page, "el.tagName === 'A' && el.textContent.includes('Fortsätt: Introduktion')", "the module link")
    page.keyboard.press("Enter")
    page.wait_for_url("**/intro/1")
    _tab_to(page, "el.tagName === 'A' && el.textContent.includes('Nästa sida')", "the next-page link")
    page.keyboard.press("Enter")
    page.wait_for_url("**/intro/2")

    _tab_to(page, "el.tagName === 'TEXTAREA'", "the answer field")
    page.keyboard.type(ANSWER)
    page.locator("form[data-answer=intro-first-thought] .save-status").filter(has_text="Sparat").wait_for()
    page.reload()
    assert page.locator("form[data-answer=intro-first-thought] textarea").input_value() == ANSWER
