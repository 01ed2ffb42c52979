"""axe-core (WCAG 2.1 A/AA and best practice) on every kind of page, as each role,
in Swedish, Arabic and Persian (both right to left), on a desktop (1280×800) and a phone
(360×740); nothing may scroll sideways there or at 320 px.

The pages listed here are the product's distinct page types; a new page type
belongs in one of these lists (``test_the_matrix_is_large_enough`` keeps count).
"""

from __future__ import annotations

import pyotp
import pytest

from tests.e2e.helpers import unused_code
from tests.fixtures.plugin import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.once_per_matrix]


def _login(page, server, user, secret=None):
    """Log in by field ids, whatever language the login page is in."""
    page.goto(server.url + "/auth/login")
    page.locator("#email").fill(user)
    page.locator("#password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    if secret or "/auth/two-factor" in page.url:
        # Everyone has a second step now (patients too): a code from the account's app.
        page.locator("#code").fill(pyotp.TOTP(secret).now() if secret else unused_code(user))
        page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


VIEWPORTS = [(1280, 800, True), (360, 740, True), (320, 640, False)]  # (width, height, run axe)
LANGUAGES = ["sv", "ar", "fa"]
RTL = {"ar", "fa"}

PATIENT_PAGES = ["/e/{e}/plan", "/home", "/e/{e}/", "/e/{e}/pain-physiology/2", "/e/{e}/messages", "/e/{e}/summary",
                 "/e/{e}/diary/{diary}",
                 "/auth/account", "/account/notifications", "/account/my-data", "/accessibility", "/e/{e}/questionnaires/{dispatch}",
                 "/account/contact", "/welcome/about", "/welcome/phone", "/welcome/notifications", "/welcome/language",
                 "/e/{e}/reply"]
CLINICIAN_PAGES = ["/clinician/", "/clinician/open", "/clinician/enrolments/{e}", "/clinician/enrolments/{e}/messages",
                   "/clinician/inbox", "/admin/follow-up", "/clinician/questionnaires",
                   "/clinician/questionnaires/rounds/{round}", "/clinician/enrolments/{e}/plan",
                   "/clinician/follow-ups", "/clinician/groups", "/clinician/groups/{group}",
                   "/clinician/alerts", "/clinician/alerts/{alert}", "/clinician/alerts/{acknowledged_alert}",
                   "/account/notifications",

                   # The enrolment page's sections (issue 17) and the message templates.
                   "/clinician/enrolments/{e}/answers", "/clinician/enrolments/{e}/schedule",
                   "/clinician/enrolments/{e}/outcomes", "/clinician/enrolments/{e}/care",
                   "/clinician/enrolments/{e}/settings", "/clinician/message-templates",
                   # Self-referral (issue 24): the triage list, the unit's setting and the registration codes.
                   "/clinician/triage", "/clinician/self-referral", "/clinician/self-referral/codes",
                   # The reply to the referring unit and the exports (issue 24).
                   "/clinician/enrolments/{e}/reply", "/clinician/enrolments/{e}/reply/1", "/clinician/exports"]
EDITOR_PAGES = ["/content/", "/content/preview/pain-info/ar/what-is-long-term-pain/1",
                "/content/preview/act-long-term-pain/sv/present-moment/3",
                # Questionnaire preview (issue 20): the list, a version in the page's language and a fallback.
                "/content/questionnaires/", "/content/questionnaires/phq-9/sv", "/content/questionnaires/gad-7/ar"]
ADMIN_PAGES = ["/admin/", "/admin/access-log", "/admin/privacy?personal_number=19121212-1212",
               # Administration in the browser (issue 20).
               "/admin/units/new", "/admin/units/{unit_id}", "/admin/staff/new", "/admin/staff/{staff_id}"]
PUBLIC_PAGES = ["/auth/login", "/auth/reset", "/referral/", "/register"]


def _check(page, server, axe, paths, lang, world=None):
    for template in paths:
        path = template.format(**(world or {}))
        for width, height, run_axe in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            response = page.goto(server.url + path)
            assert response.status == 200, path
            assert page.locator("html").get_attribute("lang") == lang, path
            assert page.locator("html").get_attribute("dir") == ("rtl" if lang in RTL else "ltr"), path
            if run_axe:
                axe(page, f"{path} in {lang} at {width}px")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} scrolls sideways at {width}px in {lang}"


def _navigation_starts_on_the_reading_side(page, lang):
    """In Arabic and Persian the main navigation begins on the right; in Swedish on the left."""
    page.set_viewport_size({"width": 1280, "height": 800})
    links = page.locator("nav.main-nav a")
    first, last = links.first.bounding_box(), links.last.bounding_box()
    if lang in RTL:
        assert first["x"] > last["x"] and first["x"] + first["width"] > 640
    else:
        assert first["x"] < last["x"] and first["x"] < 640


@pytest.fixture(params=LANGUAGES)
def lang(request):
    return request.param


def test_the_matrix_is_large_enough():
    distinct = set(PATIENT_PAGES + CLINICIAN_PAGES + EDITOR_PAGES + ADMIN_PAGES + PUBLIC_PAGES)
    axe_viewports = [v for v in VIEWPORTS if v[2]]
    assert len(distinct) >= 20 and len(axe_viewports) == 2 and len(LANGUAGES) == 3


@pytest.fixture
def world(make, db, lang):
    from webapp.messages.services import post_as_patient

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel", locale=lang)
    patient = make.user("patient", name="Tolvan Tolvansson", personal_number="191212121212", phone="+46701740605",
                        locale=lang)
    enrolment = make.enrolment(patient, unit, clinician, programme="pain-school", welcome_text="Välkommen!")
    from flask import current_app

    from webapp.content.services import get_catalogue
    from webapp.questionnaires.models import Dispatch
    from webapp.questionnaires.services import send_round

    with current_app.test_request_context():
        post_as_patient(enrolment, patient, "Hej! Här är en länk: https://www.1177.se")
    round_ = send_round(get_catalogue().forms["phq-9"], unit.id, clinician, [enrolment])
    from datetime import date, time

    from webapp.careplan.services import schedule_contact, share
    from webapp.core.db import utcnow
    from webapp.groups.services import create_group

    share(enrolment, {"goals": [{"matters": "Familjen", "able_to": "Gå till parken"}],
                      "activities": [{"what": "Promenad", "who": "patient", "when": "dagligen"}],
                      "review_on": "2027-03-01"}, clinician)
    schedule_contact(enrolment, clinician, "phone", utcnow(), "Hur går det?")
    from webapp.replies.services import save as save_reply

    save_reply(enrolment, clinician, "sv", "Vårdcentralen Norr",
               {"done": "Sex av nio avsnitt.", "plan": "Promenad dagligen.", "recommendations": "Fortsätt träna."})
    # An answer to read and give feedback on, and two scores for the outcome chart and table.
    import json
    from datetime import timedelta

    from webapp.programme import services as journey
    from webapp.questionnaires.models import Submission

    module = get_catalogue().programmes["pain-school"].published_modules[0]
    kind, block_id, items = next(a for a in module.answer_ids() if a[0] == "reflection")
    journey.save_answer(enrolment, module, block_id, kind, journey.clean_answer(kind, items, "Mitt svar", None, []),
                        None)
    for weeks, total, band in ((0, 16, "Moderately severe"), (6, 8, "Mild")):
        at = utcnow() - timedelta(weeks=8 - weeks)
        answered = Dispatch(enrolment_id=enrolment.id, form_id="phq-9", send_at=at, created_at=at, answered_at=at,
                            purpose="before" if weeks == 0 else "manual")
        db.session.add(answered)
        db.session.flush()
        db.session.add(Submission(dispatch_id=answered.id, enrolment_id=enrolment.id, form_id="phq-9", total=total,
                                  band=band, answers=json.dumps({"q1": 1}), submitted_at=at))
    group = create_group(unit, get_catalogue().programmes["pain-school"], "Smärtskola tisdagar", date(2027, 1, 12),
                         time(13, 0), 2, 8, clinician)
    from datetime import timedelta

    from webapp.questionnaires.models import SafetyAlert

    # One safety alert open (on the caseload, the enrolment page, its own page), one acknowledged.
    alert = SafetyAlert(enrolment_id=enrolment.id, escalate_at=utcnow(), note="")
    acknowledged = SafetyAlert(enrolment_id=enrolment.id, escalate_at=utcnow(), created_at=utcnow() - timedelta(hours=3),
                               acknowledged_at=utcnow(), acknowledged_by_id=clinician.id, note="Ringde patienten.")
    db.session.add_all([alert, acknowledged])
    # A diary with a few registrations: its page, and its chart on the summary and the answers section.
    from webapp.programme import diaries
    from webapp.programme.models import ScheduleEntry

    diary_module = next(m for m in get_catalogue().programmes["pain-school"].published_modules if m.diary_ids())
    db.session.add(ScheduleEntry(enrolment_id=enrolment.id, module_id=diary_module.id, opens_at=utcnow()))
    for days_ago, pain in ((3, 6), (1, 5), (0, 4)):
        diaries.save_entry(enrolment, diary_module, diary_module.diary_ids()[0],
                           utcnow().date() - timedelta(days=days_ago), {"pain": pain, "activity": 30 + days_ago * 5})
    db.session.commit()
    dispatch_id = db.session.query(Dispatch.id).filter_by(round_id=round_.id).scalar()
    world = {"unit": unit, "clinician": (clinician.email, clinician.totp_secret), "patient": patient.email,
             "e": enrolment.id, "dispatch": dispatch_id, "alert": alert.id, "acknowledged_alert": acknowledged.id, "round": round_.id, "group": group.id, "editor": None, "admin": None,
             "diary": diary_module.diary_ids()[0],
             "unit_id": unit.id, "staff_id": clinician.id}
    editor, admin = make.user("editor", locale=lang), make.user("admin", locale=lang)
    world["editor"] = (editor.email, editor.totp_secret)
    world["admin"] = (admin.email, admin.totp_secret)
    db.session.close()
    return world


def test_patient_pages(page, live_server, axe, world, lang):
    _login(page, live_server, world["patient"])
    _navigation_starts_on_the_reading_side(page, lang)
    _check(page, live_server, axe, PATIENT_PAGES, lang, world)


def test_clinician_pages(page, live_server, axe, world, lang):
    _login(page, live_server, *world["clinician"])
    _navigation_starts_on_the_reading_side(page, lang)
    _check(page, live_server, axe, CLINICIAN_PAGES, lang, world)


def test_editor_and_admin_pages(page, live_server, axe, world, lang):
    _login(page, live_server, *world["editor"])
    _check(page, live_server, axe, EDITOR_PAGES, lang, world)
    page.set_viewport_size({"width": 1280, "height": 800})  # on a phone the button is inside the menu
    page.locator("form.logout button").click()
    page.wait_for_url("**/auth/login**")
    _login(page, live_server, *world["admin"])
    _check(page, live_server, axe, ADMIN_PAGES, lang, world)


def test_public_pages(page, live_server, axe, lang):
    page.goto(live_server.url + "/auth/login")
    if lang in RTL:
        page.get_by_role("button", name={"ar": "العربية", "fa": "فارسی"}[lang]).click()
        page.wait_for_load_state()
    _check(page, live_server, axe, PUBLIC_PAGES, lang)
