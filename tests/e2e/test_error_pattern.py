"""One error pattern, server-rendered and script-enhanced (issue 26), on the two forms the
audit found without it: a message over 5,000 characters (once cut silently by a maxlength)
and a module answer over its limit (once not tied to its field at all).
"""

from __future__ import annotations

import time

import pytest

from tests.content.test_views import GOOD
from tests.e2e.helpers import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("app_config", [GOOD])]

LINKED = r"""
(selector) => {
  const el = document.querySelector(selector);
  const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  return {invalid: el.getAttribute("aria-invalid"), said: ids.map(id => (document.getElementById(id) || {}).textContent || "").join(" | "),
          length: el.value.length, focused: document.activeElement && document.activeElement.hasAttribute("data-error-summary"),
          title: document.title};
}
"""


@pytest.fixture
def patient(make, db):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    person = make.user("patient")
    enrolment = make.enrolment(person, unit, clinician, programme="demo")
    found = (person.email, enrolment.id)
    db.session.commit()
    db.session.close()
    return found


def _wait(page, script, arg=None, tries=60):
    for _ in range(tries):  # wait_for_function needs 'unsafe-eval', which the CSP refuses
        if page.evaluate(script, arg):
            return
        time.sleep(0.1)
    raise AssertionError(script)


def test_a_message_over_the_limit_is_kept_counted_and_refused(page, live_server, patient):
    email, enrolment_id = patient
    page.set_viewport_size({"width": 360, "height": 740})
    log_in(page, live_server.url, email)
    page.goto(f"{live_server.url}/e/{enrolment_id}/messages")
    body = page.locator("textarea#body")
    assert body.get_attribute("maxlength") is None, "a maxlength would cut a pasted text without a word"
    assert "5000" in page.locator("#body-limit").inner_text().replace("\u00a0", "").replace(" ", "")
    body.click()
    page.keyboard.insert_text("Ont i ryggen. " * 357 + "xx")  # 5,000 characters and two more, as a paste
    assert len(body.input_value()) == 5000, "nothing is cut"
    page.keyboard.insert_text("yy")
    assert len(body.input_value()) == 5002
    body.blur()
    _wait(page, "() => document.querySelector('#body-limit .char-count').textContent.includes('för mycket')")
    page.get_by_role("button", name="Skicka").click()
    page.wait_for_load_state()
    after = page.evaluate(LINKED, "textarea#body")
    assert after["invalid"] == "true" and "för lång" in after["said"], after
    assert after["length"] == 5002, "the refused text is still in the field"
    assert after["focused"] and after["title"].startswith("Fel: "), after


def test_a_module_answer_over_the_limit_is_linked_with_and_without_script(page, live_server, patient):
    email, enrolment_id = patient
    page.set_viewport_size({"width": 360, "height": 740})
    log_in(page, live_server.url, email)
    page.goto(f"{live_server.url}/e/{enrolment_id}/intro/2")
    field = "form[data-answer=intro-first-thought] textarea"
    page.locator(field).click()
    page.keyboard.insert_text("a" * 10_001)
    # Script-enhanced: the autosave's refusal is tied to the field like a server-rendered one.
    _wait(page, "(s) => document.querySelector(s).getAttribute('aria-invalid') === 'true'", field)
    during = page.evaluate(LINKED, field)
    assert "10" in during["said"] and during["length"] == 10_001, during
    # Without the script (a plain post): the page comes back with the summary focused.
    with page.expect_navigation():
        page.evaluate("(s) => { const f = document.querySelector(s).form; setTimeout(() => HTMLFormElement.prototype.submit.call(f), 0); }", field)
    page.wait_for_load_state()
    after = page.evaluate(LINKED, field)
    assert after["invalid"] == "true" and after["said"].strip(), after
    assert after["length"] == 10_001, "the refused text is still in the field"
    assert after["focused"] and after["title"].startswith("Fel: "), after
    link = page.locator("[data-error-summary] a").first
    assert link.get_attribute("href") == "#" + page.locator(field).get_attribute("id")
