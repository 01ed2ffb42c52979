"""axe-core (WCAG 2.1 A/AA and best practice) on every kind of page, as each role,
at laptop width and at 320 px, where nothing may scroll sideways."""

from __future__ import annotations

import pyotp
import pytest

from tests.fixtures.plugin import PASSWORD

pytestmark = pytest.mark.e2e


def _login(page, server, user, secret=None):
    page.goto(server.url + "/auth/login")
    page.get_by_label("E-postadress").fill(user)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    if secret:
        page.get_by_label("Sexsiffrig kod").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Fortsätt").click()
    page.wait_for_load_state()


def _check(page, server, axe, paths):
    for path in paths:
        for width in (1280, 320):
            page.set_viewport_size({"width": width, "height": 800})
            response = page.goto(server.url + path)
            assert response.status == 200, path
            axe(page, f"{path} at {width}px")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} scrolls sideways at {width}px"


@pytest.fixture
def world(make, db):
    from webapp.messages.services import post_as_patient

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Tolvan Tolvansson", personal_number="191212121212", phone="+46701740605")
    enrolment = make.enrolment(patient, unit, clinician, programme="pain-school", welcome_text="Välkommen!")
    from flask import current_app

    from webapp.content.services import get_catalogue
    from webapp.questionnaires.models import Dispatch
    from webapp.questionnaires.services import send_round

    with current_app.test_request_context():
        post_as_patient(enrolment, patient, "Hej! Här är en länk: https://www.1177.se")
    round_ = send_round(get_catalogue().forms["phq-9"], unit.id, clinician, [enrolment])
    db.session.commit()
    dispatch_id = db.session.query(Dispatch.id).filter_by(round_id=round_.id).scalar()
    world = {"unit": unit, "clinician": (clinician.email, clinician.totp_secret), "patient": patient.email,
             "enrolment": enrolment.id, "dispatch": dispatch_id, "round": round_.id, "editor": None, "admin": None}
    editor, admin = make.user("editor"), make.user("admin")
    world["editor"] = (editor.email, editor.totp_secret)
    world["admin"] = (admin.email, admin.totp_secret)
    db.session.close()
    return world


def test_patient_pages(page, live_server, axe, world):
    e = world["enrolment"]
    _login(page, live_server, world["patient"])
    _check(page, live_server, axe, ["/home", f"/e/{e}/", f"/e/{e}/pain-physiology/2", f"/e/{e}/messages",
                                    f"/e/{e}/summary", "/auth/account", "/account/notifications", "/accessibility",
                                    f"/e/{e}/questionnaires/{world['dispatch']}"])


def test_clinician_pages(page, live_server, axe, world):
    e = world["enrolment"]
    _login(page, live_server, *world["clinician"])
    _check(page, live_server, axe, ["/clinician/", "/clinician/open", f"/clinician/enrolments/{e}",
                                    f"/clinician/enrolments/{e}/messages", "/clinician/inbox", "/admin/follow-up",
                                    "/clinician/questionnaires", f"/clinician/questionnaires/rounds/{world['round']}"])


def test_editor_and_admin_pages(page, live_server, axe, world):
    _login(page, live_server, *world["editor"])
    _check(page, live_server, axe, ["/content/", "/content/preview/pain-info/ar/what-is-long-term-pain/1",
                                    "/content/preview/act-long-term-pain/sv/present-moment/3"])
    page.get_by_role("button", name="Logga ut").click()
    _login(page, live_server, *world["admin"])
    _check(page, live_server, axe, ["/admin/", "/admin/access-log", "/admin/follow-up"])


def test_public_pages(page, live_server, axe):
    _check(page, live_server, axe, ["/auth/login", "/auth/reset", "/accessibility"])
