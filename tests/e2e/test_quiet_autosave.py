"""What a screen reader hears while a patient types an answer (issue 26).

Every live region of the answer form is watched with a MutationObserver: each change
that leaves text in a polite/assertive region (or a status/alert) is an announcement.
A sentence is typed with seven pauses, four of them 2 s or longer: "Sparat" may be said
at most once per long pause and never during a short one, "Sparar …" never; a failed
save is said at once, before the patient has paused for 2 s.
"""

from __future__ import annotations

import time

import pytest

from tests.content.test_views import GOOD
from tests.e2e.helpers import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("app_config", [GOOD])]

# (words, pause in seconds after them)
SENTENCE = [("Jag tänker", 0.6), ("på min trädgård", 2.4), ("och att", 0.8), ("gå ut", 2.3),
            ("i den", 0.5), ("igen när", 2.6), ("det blir vår", 2.3)]
LONG = 2.0

WATCH = r"""
() => {
  window.__said = [];
  window.__pauses = [];
  const form = document.querySelector("form[data-answer=intro-first-thought]");
  const regions = form.querySelectorAll('[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]');
  for (const region of regions) {
    new MutationObserver(() => {
      const text = region.textContent.trim();
      if (text) window.__said.push({text, at: performance.now()});
    }).observe(region, {childList: true, characterData: true, subtree: true});
  }
  // Regions added later (a conflict box with role=alert) count too.
  new MutationObserver(records => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType === 1 && n.matches('[role=alert], [role=status], [aria-live]')) {
        window.__said.push({text: n.textContent.trim(), at: performance.now()});
      }
    }
  }).observe(form, {childList: true, subtree: true});
  return regions.length;
}
"""


def test_saved_is_said_once_per_pause_and_a_failure_at_once(page, live_server, make, db):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    patient = make.user("patient")
    enrolment = make.enrolment(patient, unit, clinician, programme="demo")
    email, enrolment_id = patient.email, enrolment.id
    db.session.commit()
    db.session.close()

    page.set_viewport_size({"width": 360, "height": 740})
    log_in(page, live_server.url, email)
    page.goto(f"{live_server.url}/e/{enrolment_id}/intro/2")
    assert page.evaluate(WATCH) >= 1, "the answer form has a live region"
    field = page.get_by_label("Ditt svar")
    field.click()

    long_pauses = []
    for words, pause in SENTENCE:
        field.press_sequentially(words + " ", delay=40)
        start = page.evaluate("performance.now()")
        time.sleep(pause)
        end = page.evaluate("performance.now()")
        if pause >= LONG:
            long_pauses.append((start, end))
    said = page.evaluate("window.__said")
    saved = [s for s in said if s["text"] == "Sparat"]
    assert not [s for s in said if s["text"].startswith("Sparar")], said
    assert 1 <= len(saved) <= len(long_pauses), said
    for window_start, window_end in long_pauses:
        assert len([s for s in saved if window_start <= s["at"] <= window_end + 50]) <= 1, said
    assert all(any(a - 50 <= s["at"] <= b + 50 for a, b in long_pauses) for s in saved), \
        f"'Sparat' said while typing or in a short pause: {said}"
    # The visible status still follows every save.
    assert page.locator("form[data-answer=intro-first-thought] .save-status").inner_text() == "Sparat"

    # A failed save is said as soon as it fails, without waiting for a pause of 2 s.
    page.route("**/answers/intro-first-thought", lambda route: route.abort())
    page.evaluate("window.__said = []")
    field.press_sequentially("x", delay=0)
    typed_at = page.evaluate("performance.now()")
    failed = None
    for _ in range(50):  # wait_for_function would need 'unsafe-eval', which the page's CSP refuses
        failed = next((s for s in page.evaluate("window.__said") if s["text"].startswith("Kunde inte spara")), None)
        if failed:
            break
        time.sleep(0.1)
    assert failed, "the failure is said"
    assert failed["at"] - typed_at < 1900, "said at once, not after the quiet time"
    assert "Kunde inte spara" in page.locator("form[data-answer=intro-first-thought] .save-status").inner_text()
