"""The foundation in a real browser: logging in as patient and staff, the
session-timeout warning by keyboard, languages, accessibility and narrow phones."""

from __future__ import annotations

import pyotp
import pytest

from tests.e2e.helpers import is_patient, unused_code
from tests.fixtures.plugin import PASSWORD

pytestmark = pytest.mark.e2e


def _login(page, server, email, password=PASSWORD):
    page.goto(server.url + "/auth/login")
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Logga in", exact=True).click()
    if page.url.endswith("/auth/two-factor") and is_patient(email):  # staff tests type their own code
        page.get_by_label("Sexsiffrig kod").fill(unused_code(email))
        page.get_by_role("button", name="Fortsätt").click()


def test_patient_logs_in_sees_welcome_and_logs_out(page, live_server, make, db, axe):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Tolvan Tolvansson")
    make.enrolment(patient, unit, clinician, welcome_text="Välkommen! <script>alert(1)</script> **Ta det lugnt.**")
    email = patient.email
    db.session.close()

    page.goto(live_server.url + "/auth/login")
    axe(page, "login page")
    _login(page, live_server, email)
    page.wait_for_url("**/home")
    assert page.get_by_role("heading", level=1).inner_text() == "Välkommen, Tolvan Tolvansson"
    assert page.get_by_text("Digital smärtskola").is_visible()
    # The clinician's Markdown is rendered, and HTML in it is shown as text.
    assert page.locator(".welcome-text strong").inner_text() == "Ta det lugnt."
    assert "<script>alert(1)</script>" in page.locator(".welcome-text").inner_text()
    axe(page, "patient home")

    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url("**/auth/login")
    page.goto(live_server.url + "/home")
    assert "/auth/login" in page.url


def test_wrong_password_is_announced_next_to_the_field(page, live_server, make, db, axe):
    email = make.user("patient").email
    db.session.close()
    _login(page, live_server, email, "not the password")
    error = page.locator("#password-error")
    assert error.inner_text() == "E-postadressen eller lösenordet är fel."
    assert page.get_by_label("Lösenord").get_attribute("aria-describedby") == "password-error"
    assert page.get_by_label("E-postadress").input_value() == email  # nothing typed is lost
    axe(page, "login with error")


def test_clinician_logs_in_with_two_factor(page, live_server, make, db):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    email, secret = clinician.email, clinician.totp_secret
    db.session.close()
    _login(page, live_server, email)
    page.wait_for_url("**/auth/two-factor")
    page.get_by_label("Sexsiffrig kod").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Fortsätt").click()
    page.wait_for_url("**/clinician/")
    assert page.get_by_role("heading", level=1).inner_text() == "Patientlista"


@pytest.mark.parametrize("app_config", [{"SESSION_IDLE_MINUTES": 1, "SESSION_WARNING_SECONDS": 58}])
def test_idle_warning_can_be_answered_with_the_keyboard_and_the_session_then_ends(page, live_server, make, db):
    email = make.user("patient").email
    db.session.close()
    _login(page, live_server, email)
    page.wait_for_url("**/home")
    dialog = page.get_by_role("alertdialog")
    dialog.wait_for(state="visible", timeout=10_000)
    button = page.get_by_role("button", name="Fortsätt vara inloggad")
    assert button.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    dialog.wait_for(state="hidden", timeout=5_000)
    assert "/home" in page.url
    # Extended, the session lasts another minute; left alone, it then ends on the
    # server and the page moves to the login page, saying why.
    dialog.wait_for(state="visible", timeout=10_000)
    page.wait_for_url("**/auth/login**", timeout=80_000)
    assert page.get_by_text("Du loggades ut eftersom du inte var aktiv på en stund.").is_visible()
    page.goto(live_server.url + "/home")
    assert "/auth/login" in page.url


def test_arabic_pages_are_right_to_left_and_accessible(page, live_server, axe):
    page.goto(live_server.url + "/auth/login")
    page.get_by_role("button", name="العربية").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ar"
    axe(page, "arabic login")


def test_login_page_fits_a_320px_phone_and_has_a_skip_link(page, live_server):
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(live_server.url + "/auth/login")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Hoppa till innehållet")
    assert skip.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
