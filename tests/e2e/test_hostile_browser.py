"""Hostile text typed by one user runs nothing in another user's browser."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import log_in

pytestmark = pytest.mark.e2e

PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    '<script>window.__xss=1</script>',
    '[klicka](javascript:window.__xss=1)',
    '<svg onload="window.__xss=1">',
    '"><iframe src="javascript:parent.__xss=1"></iframe>',
]


def test_hostile_messages_welcome_text_and_plan_are_inert(app, page, live_server, make, db):
    from webapp.careplan.services import share
    from webapp.messages.services import post_as_patient

    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    patient = make.user("patient", name='<b onmouseover="window.__xss=1">Kim</b>')
    enrolment = make.enrolment(patient, unit, clinician, welcome_text="\n\n".join(PAYLOADS))
    with app.test_request_context():
        for payload in PAYLOADS:
            post_as_patient(enrolment, patient, payload)
    share(enrolment, {"goals": [{"matters": p, "able_to": p} for p in PAYLOADS], "activities": [],
                      "review_on": ""}, clinician)
    db.session.commit()
    e, email, secret, patient_email = enrolment.id, clinician.email, clinician.totp_secret, patient.email
    db.session.close()

    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, live_server.url, email, secret)
    page.wait_for_url("**/clinician/")
    for path in ("/clinician/", f"/clinician/enrolments/{e}", f"/clinician/enrolments/{e}/messages",
                 "/clinician/inbox"):
        page.goto(live_server.url + path)
        page.mouse.move(200, 300)
        assert page.evaluate("window.__xss") is None, path
    page.goto(f"{live_server.url}/clinician/enrolments/{e}/messages")
    assert page.get_by_text('<img src=x onerror="window.__xss=1">').first.is_visible()  # shown as text

    page.locator("form.logout button").click()
    log_in(page, live_server.url, patient_email)
    page.wait_for_url("**/home")
    for path in ("/home", f"/e/{e}/messages", f"/e/{e}/plan", f"/e/{e}/summary", "/account/my-data"):
        page.goto(live_server.url + path)
        for link in page.locator("main a[href^='javascript']").all():
            raise AssertionError(f"javascript: link on {path}: {link.get_attribute('href')}")
        assert page.evaluate("window.__xss") is None, path
    assert dialogs == []
