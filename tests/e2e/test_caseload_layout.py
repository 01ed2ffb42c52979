"""The caseload on a laptop and a wide screen: no word broken inside, identity numbers on one line,
the unacknowledged safety answer first, and acknowledging it takes it off the top for the whole unit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.helpers import log_in

pytestmark = pytest.mark.e2e

# For every word of every cell: the rectangles its text takes. A word that wraps inside has two.
BROKEN_WORDS = """
() => {
  const broken = [];
  for (const cell of document.querySelectorAll('table.caseload th, table.caseload td')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('.visually-hidden')) continue;
      const re = /\\S+/g;
      let m;
      while ((m = re.exec(node.data)) !== null) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}
"""

# The identity numbers as they render: each must be on a single line.
PNR_LINES = """
() => [...document.querySelectorAll('table.caseload .pnr')].map(el => {
  const tops = new Set([...el.getClientRects()].map(r => Math.round(r.top)));
  return [el.textContent.trim(), tops.size];
})
"""


@pytest.mark.parametrize("width, height", [(1280, 800), (1920, 1080)])
def test_caseload_layout_safety_first_and_acknowledged_for_the_unit(app, page, live_server, make, db, width, height):
    from webapp.core.db import utcnow
    from webapp.core.identity import luhn_check_digit
    from webapp.messages.models import Conversation
    from webapp.questionnaires.alerts import raise_alert

    unit = make.unit(name="Vårdcentralen Ekbacken")
    elsa = make.user("clinician", units=[unit], name="Elsa Exempel")
    jonas = make.user("clinician", units=[unit], name="Jonas Ek")
    now = utcnow()
    names = ["Anna-Karin Lindqvist-Håkansson", "Bo Ek", "Fatima Al-Hassan", "Per-Olof Wikström",
             "Maximiliana Sundqvist-Abrahamsson", "Lina Nguyen"]
    pnrs = [f"{serial}{luhn_check_digit(serial[2:])}" for serial in
            ("19121212121", "19811218987", "20170101239", "19491028911", "19780202238", "20000909238")]
    enrolments = []
    for n, (name, pnr) in enumerate(zip(names, pnrs, strict=True)):
        patient = make.user("patient", name=name, personal_number=pnr)
        enrolments.append(make.enrolment(
            patient, unit, elsa if n % 2 else jonas, programme="act-long-term-pain" if n % 2 else "pain-school",
            started_at=now - timedelta(days=10 + n * 7), last_active_at=now - timedelta(days=n * 4)))
    # The oldest enrolment has the safety answer: "newest first" would put it last.
    alerted = enrolments[-1]
    raise_alert(alerted, None, now=now - timedelta(hours=2))
    db.session.add(Conversation(enrolment_id=enrolments[0].id, unread_for_staff=2, unread_for_patient=0))
    db.session.commit()
    alerted_name = names[-1]
    elsa_login, jonas_login = (elsa.email, elsa.totp_secret), (jonas.email, jonas.totp_secret)
    db.session.close()

    page.set_viewport_size({"width": width, "height": height})
    log_in(page, live_server.url, *elsa_login)
    page.goto(live_server.url + "/clinician/")
    rows = page.locator("table.caseload tbody tr")
    assert rows.count() == len(names)
    first = rows.first
    assert alerted_name in first.inner_text() and "is-safety" in first.get_attribute("class")
    assert first.locator(".flag-safety").is_visible()

    assert page.evaluate(BROKEN_WORDS) == []
    lines = page.evaluate(PNR_LINES)
    assert len(lines) == len(names) and all(count == 1 for _text, count in lines), lines
    # One row per patient on one or two lines.
    line_height = page.evaluate("parseFloat(getComputedStyle(document.querySelector('table.caseload td')).lineHeight)")
    for i in range(rows.count()):
        assert rows.nth(i).bounding_box()["height"] <= 2 * line_height + 24, rows.nth(i).inner_text()
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0

    # Elsa acknowledges it from the enrolment page, with a note.
    first.get_by_role("link", name=alerted_name).click()
    page.locator(".safety-banner a.button").click()
    page.locator("#note").fill("Ringde patienten och bokade ett besök i morgon.")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/clinician/enrolments/*")
    assert page.locator(".safety-banner").count() == 0
    # The history lives in the enrolment's "Settings & access" section.
    page.get_by_role("navigation", name="Delar av inskrivningen").get_by_role("link", name="Inställningar och åtkomst").click()
    assert "Ringde patienten och bokade ett besök i morgon." in page.locator("ul.history").inner_text()

    # Jonas, in the same unit, no longer has it on top.
    page.locator("form.logout button").click()
    page.wait_for_url("**/auth/login**")
    log_in(page, live_server.url, *jonas_login)
    page.goto(live_server.url + "/clinician/")
    assert page.locator("table.caseload tr.is-safety").count() == 0
    assert alerted_name not in page.locator("table.caseload tbody tr").first.inner_text()
