"""Every route of the application, from the URL map, checked for every kind of
user with real object ids: who may use it, who is sent to log in, who is refused
(403) and for whom the object does not exist (404).

A route that is added without an expectation here fails the test, so access is
decided on purpose for every new page or action.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from tests.fixtures.plugin import Auth, csrf_token_from

ROLES = ["anon", "patient_b", "outsider", "editor", "admin", "patient_a", "clinician"]
ALLOW, LOGIN, FORBID, HIDE = "allow", "login", "forbid", "hide"


def _profile(allow=(), hide=(), anon=LOGIN):
    """Expected outcome per role: ``allow`` and ``hide`` roles, anonymous users as given, the rest refused."""
    result = {role: (ALLOW if role in allow else HIDE if role in hide else FORBID) for role in ROLES}
    result["anon"] = anon if "anon" not in allow else ALLOW
    return result


PUBLIC = {role: ALLOW for role in ROLES}
LOGGED_IN = _profile(allow=ROLES[1:])
PATIENT_OWN = _profile(allow=["patient_a"], hide=["patient_b"])
PATIENTS = _profile(allow=["patient_a", "patient_b"])
CLINICIAN_OBJECT = _profile(allow=["clinician"], hide=["outsider"])
CLINICIANS = _profile(allow=["clinician", "outsider"])
ADMIN = _profile(allow=["admin"])
EDITOR = _profile(allow=["editor", "admin"])
# Writing content in the browser: editors only (administrators and clinicians see no drafts).
EDITOR_ONLY = _profile(allow=["editor"])
FOLLOW_UP = _profile(allow=["clinician", "outsider", "admin"])
# Token links and the two-factor steps: a made-up token does not exist for anyone,
# and the two-factor pages belong to a login in progress (others start again).
NO_SUCH_TOKEN = {role: HIDE for role in ROLES}
LOGIN_STEP = {role: LOGIN for role in ROLES}
# A library address of something that is not public information does not exist for anyone.
NOT_PUBLIC = {role: HIDE for role in ROLES}
# Logging out ends on the login page, whoever asks.
LOGOUT = {role: LOGIN for role in ROLES}

# endpoint -> profile for every method, or {method: profile}
EXPECTED = {
    "static": PUBLIC,
    "core.index": LOGGED_IN,
    "core.accessibility": PUBLIC,
    "core.healthz": PUBLIC,
    "core.livez": PUBLIC,
    "core.set_language": PUBLIC,
    "auth.login": PUBLIC,
    "auth.request_reset": PUBLIC,
    "auth.reset_password": NO_SUCH_TOKEN,
    "auth.accept_invitation": NO_SUCH_TOKEN,
    "auth.two_factor": LOGIN_STEP,
    "auth.two_factor_qr": NO_SUCH_TOKEN,
    "auth.two_factor_setup": LOGIN_STEP,
    "auth.account": LOGGED_IN,
    "auth.extend_session": LOGGED_IN,
    "auth.logout": LOGOUT,
    "auth.logout_everywhere": LOGOUT,
    # e-ID: no provider is configured here, so every provider name is unknown.
    "auth.eid_start": NO_SUCH_TOKEN,
    "auth.eid_callback": NO_SUCH_TOKEN,
    "auth.reauthenticate": LOGGED_IN,
    "auth.second_factor_setup": LOGIN_STEP,
    "auth.passkey_login": LOGIN_STEP,
    # A login's second step only (none is under way here): refused for everyone.
    "auth.passkey_login_options": {role: FORBID for role in ROLES},
    "auth.passkey_login_verify": {role: FORBID for role in ROLES},
    # Adding a passkey: a login's second step, or a logged-in person with a fresh login.
    "auth.passkey_register_options": _profile(allow=ROLES[1:], anon=FORBID),
    "auth.passkey_register": _profile(allow=ROLES[1:], anon=FORBID),
    "auth.passkey_add": LOGGED_IN,
    "notifications.settings": _profile(allow=["patient_a", "patient_b", "clinician", "outsider"]),
    "notifications.send_phone_code": PATIENTS,
    "notifications.verify_phone": PATIENTS,
    "account.contact": PATIENTS,
    "account.change_email": PATIENTS,
    "account.confirm_email": NO_SUCH_TOKEN,
    "account.change_phone": PATIENTS,
    "account.confirm_phone": PATIENTS,
    "account.remove_phone": PATIENTS,
    "account.onboarding_start": PATIENTS,
    "account.onboarding": PATIENTS,
    "account.finish_onboarding": PATIENTS,
    "programme.home": PATIENTS,
    "programme.modules": PATIENT_OWN,
    "programme.module_page": PATIENT_OWN,
    "programme.mark_done": PATIENT_OWN,
    "programme.save_answer": PATIENT_OWN,
    "programme.summary": PATIENT_OWN,
    "programme.diary": PATIENT_OWN,
    "programme.save_diary": PATIENT_OWN,
    "messages.patient_thread": PATIENT_OWN,
    "careplan.patient_plan": PATIENT_OWN,
    "careplan.agree": PATIENT_OWN,
    "questionnaires.answer": PATIENT_OWN,
    "questionnaires.done": PATIENT_OWN,
    "clinician.caseload": CLINICIANS,
    "clinician.open_access": CLINICIANS,
    "clinician.safety_alerts": CLINICIANS,
    "clinician.safety_alert": CLINICIAN_OBJECT,
    "messages.inbox": CLINICIANS,
    "careplan.worklist": CLINICIANS,
    "groups.index": CLINICIANS,
    "questionnaires.rounds": CLINICIANS,
    "questionnaires.export": CLINICIANS,
    "clinician.enrolment": CLINICIAN_OBJECT,
    "clinician.close": CLINICIAN_OBJECT,
    "clinician.reopen": CLINICIAN_OBJECT,
    "clinician.extend": CLINICIAN_OBJECT,
    "clinician.hand_over": CLINICIAN_OBJECT,
    "clinician.maintenance": CLINICIAN_OBJECT,
    "clinician.end_date": CLINICIAN_OBJECT,
    "clinician.schedule": CLINICIAN_OBJECT,
    "clinician.welcome": CLINICIAN_OBJECT,
    "clinician.answers": CLINICIAN_OBJECT,
    "clinician.feedback": CLINICIAN_OBJECT,
    "clinician.outcomes": CLINICIAN_OBJECT,
    "clinician.care": CLINICIAN_OBJECT,
    "clinician.settings": CLINICIAN_OBJECT,
    "messages.templates": CLINICIANS,
    "messages.edit_template": CLINICIAN_OBJECT,
    "messages.delete_template": CLINICIAN_OBJECT,
    "messages.staff_thread": CLINICIAN_OBJECT,
    "messages.mark_handled": CLINICIAN_OBJECT,
    "careplan.edit": CLINICIAN_OBJECT,
    "careplan.schedule": CLINICIAN_OBJECT,
    "careplan.outcome": CLINICIAN_OBJECT,
    "questionnaires.send": CLINICIAN_OBJECT,
    "questionnaires.remind_now": CLINICIAN_OBJECT,
    "questionnaires.round_detail": CLINICIAN_OBJECT,
    "groups.detail": CLINICIAN_OBJECT,
    "groups.add_members": CLINICIAN_OBJECT,
    "groups.move_session": CLINICIAN_OBJECT,
    "groups.remove_member": CLINICIAN_OBJECT,
    "admin.index": ADMIN,
    "admin.access_log": ADMIN,
    "admin.follow_up": FOLLOW_UP,
    "admin.new_unit": ADMIN,
    "admin.unit": ADMIN,
    "admin.deactivate_unit": ADMIN,
    "admin.invite_staff": ADMIN,
    "admin.staff_member": ADMIN,
    "admin.set_role": ADMIN,
    "admin.add_unit": ADMIN,
    "admin.remove_unit": ADMIN,
    "admin.set_hsa_id": ADMIN,
    "admin.reset_two_factor": ADMIN,
    "admin.deactivate_staff": ADMIN,
    "privacy.my_data": PATIENTS,
    "privacy.my_data_json": PATIENTS,
    "privacy.admin_index": ADMIN,
    "privacy.admin_export": ADMIN,
    "privacy.admin_erase": ADMIN,
    "content.index": EDITOR,
    "content.preview": EDITOR,
    "content.questionnaires": EDITOR,
    "content.questionnaire_preview": EDITOR,
    # Media of a programme the patient follows (both patients follow the pain school).
    "content.media_file": LOGGED_IN,
    "editor.edit": EDITOR_ONLY,
    "editor.new_module": EDITOR_ONLY,
    "editor.edit_draft": EDITOR_ONLY,
    "editor.drafts": EDITOR_ONLY,
    "editor.draft": EDITOR_ONLY,
    "editor.approve": EDITOR_ONLY,
    "editor.withdraw": EDITOR_ONLY,
    "editor.history": EDITOR_ONLY,
    "editor.revert": EDITOR_ONLY,
    "editor.help_page": EDITOR,
    "editor.upload_media": EDITOR_ONLY,
    # The patient information library: public information, readable by anyone.
    "library.start": PUBLIC,
    "library.index": PUBLIC,
    "library.page": PUBLIC,
    "library.handout": PUBLIC,
    # The world's media belongs to the pain school, which is not public: it stays behind the login.
    "library.media_file": NOT_PUBLIC,
    "library.share": CLINICIAN_OBJECT,
    # Self-referral: the list of open programmes and one of them are public; e-ID needs a configured provider.
    "referrals.index": PUBLIC,
    "referrals.offer": PUBLIC,
    "referrals.eid": NO_SUCH_TOKEN,
    "referrals.start": PATIENTS,
    "referrals.mine": PATIENTS,
    "referrals.request_page": PATIENT_OWN,
    "referrals.send": PATIENT_OWN,
    "referrals.answer": PATIENT_OWN,
    # The triage list and the unit setting: any clinician (their own units); a request: its unit's only.
    "referrals.triage": CLINICIANS,
    "referrals.offers": CLINICIANS,
    "referrals.decide": CLINICIAN_OBJECT,
    "referrals.codes": CLINICIANS,
    # Registering with a code from the care unit: the way in for anyone who has one.
    "referrals.register": PUBLIC,
    "clinician.reply_edit": CLINICIAN_OBJECT,
    "clinician.reply_print": CLINICIAN_OBJECT,
    "replies.patient_reply": PATIENT_OWN,
    "interop.index": CLINICIANS,
    "interop.enrolment_fhir": CLINICIAN_OBJECT,
    # Without ?unit= no unit is named, so there is nothing to export for anyone (tests/interop checks the unit).
    "interop.unit_fhir": _profile(hide=["clinician", "outsider"]),
    "interop.register_csv": _profile(hide=["clinician", "outsider"]),
}

# State-changing actions that would get in the way of later requests go last.
LAST = ["groups.remove_member", "messages.delete_template", "auth.logout", "auth.logout_everywhere"]


@pytest.fixture
def world(app, make, db):
    from webapp.careplan.services import schedule_contact, share
    from webapp.content.services import get_catalogue
    from webapp.core.db import utcnow
    from webapp.editor.models import ContentDraft, ContentRevision
    from webapp.groups.models import GroupMember
    from webapp.groups.services import create_group
    from webapp.messages.models import MessageTemplate
    from webapp.programme.models import ScheduleEntry
    from webapp.questionnaires.models import SafetyAlert
    from webapp.questionnaires.services import send_round
    from webapp.replies.services import save as save_reply

    unit, other_unit = make.unit(), make.unit()
    users = {
        "clinician": make.user("clinician", units=[unit]),
        "outsider": make.user("clinician", units=[other_unit]),
        "editor": make.user("editor"),
        "admin": make.user("admin"),
        # The staff member the administrator's pages change (nobody logs in as them).
        "colleague": make.user("clinician", units=[unit]),
        "patient_a": make.user("patient"),
        "patient_b": make.user("patient"),
    }
    enrolment = make.enrolment(users["patient_a"], unit, users["clinician"])
    make.enrolment(users["patient_b"], unit, users["clinician"])
    catalogue = get_catalogue()
    round_ = send_round(catalogue.forms["phq-9"], unit.id, users["clinician"], [enrolment])
    share(enrolment, {"goals": [{"matters": "a", "able_to": "b"}], "activities": [], "review_on": ""},
          users["clinician"])
    save_reply(enrolment, users["clinician"], "sv", "", {"recommendations": "Fortsätt"})
    contact = schedule_contact(enrolment, users["clinician"], "phone", utcnow() + timedelta(days=1), "")
    group = create_group(unit, catalogue.programmes["pain-school"], "G", date(2027, 1, 12), time(13), 1, 2,
                         users["clinician"])
    db.session.flush()
    member = GroupMember(group_id=group.id, enrolment_id=enrolment.id)
    db.session.add(member)
    alert = SafetyAlert(enrolment_id=enrolment.id, escalate_at=utcnow(), note="")
    db.session.add(alert)
    template = MessageTemplate(care_unit_id=unit.id, kind="feedback", locale="sv", name="Mall", body="Hej {förnamn}")
    db.session.add(template)
    referral, screening_id, offer = _self_referral(db, unit, users["patient_a"])
    db.session.commit()
    programme = catalogue.programmes["pain-school"]
    # A diary (in a later module, opened now for patient A) for the diary routes.
    diary_module = next(m for m in programme.published_modules if m.diary_ids())
    db.session.add(ScheduleEntry(enrolment_id=enrolment.id, module_id=diary_module.id, opens_at=utcnow()))
    db.session.commit()
    module = programme.published_modules[0]
    # A withdrawn draft and a revision that created its file: approving or reverting them
    # is refused, so these suites never write into the repository's content/.
    path = f"{programme.id}/{module.id}/sv.md"
    draft = ContentDraft(path=path, text="", status="withdrawn", author=make.user("editor"))
    revision = ContentRevision(path=path, old_text=None, new_text="", author_id=None)
    db.session.add_all([draft, revision])
    db.session.commit()
    block_id = next(iter(module.answer_ids()))[1]
    media_id, media = next((k, m) for k, m in sorted(catalogue.media.items()) if programme.id in m.programmes)
    values = {
        "enrolment_id": enrolment.id, "dispatch_id": _dispatch_id(db, enrolment),
        "round_id": round_.id, "contact_id": contact.id, "group_id": group.id, "member_id": member.id,
        "session_id": group.sessions[0].id, "alert_id": alert.id, "template_id": template.id, "module_id": module.id, "page": 1, "block_id": block_id,
        "diary_id": diary_module.diary_ids()[0],
        "token": "not-a-real-token", "provider": "not-configured", "user_id": users["patient_a"].id, "programme_id": programme.id, "lang": "sv", "media_id": media_id,
        "info_id": "pain-info", "staff_id": users["colleague"].id, "form_id": "phq-9", "unit_id": unit.id, "topic_id": "what-is-long-term-pain",
        "draft_id": draft.id, "revision_id": revision.id,
        "filename": _media_filename(media), "filename_static": "lotsa.css", "step": "about",
        "offer_id": offer.id, "referral_id": referral.id, "screening_id": screening_id,
        "number": 1,
    }
    return {"users": users, "values": values}


def _self_referral(db, unit, patient):
    """An open programme of the unit and patient_a's request for it, sent to the triage list."""
    from webapp.referrals import services
    from webapp.referrals.models import ReferralOffer

    offer = ReferralOffer(care_unit_id=unit.id, programme_id="act-long-term-pain", screening_forms="phq-9",
                          is_open=True)
    db.session.add(offer)
    db.session.flush()
    referral = services.start(offer, patient)
    dispatch = services.screening_dispatches(referral)[0]
    dispatch.answered_at = dispatch.created_at
    referral.status = "waiting"
    referral.submitted_at = dispatch.created_at
    return referral, dispatch.id, offer


def _dispatch_id(db, enrolment):
    from sqlalchemy import select

    from webapp.questionnaires.models import Dispatch

    return db.session.scalar(select(Dispatch.id).where(Dispatch.enrolment_id == enrolment.id))


def _media_filename(media) -> str:
    return sorted(media.servable)[0]


def _url(rule, values) -> str:
    url = rule.rule
    for arg in rule.arguments:
        value = values["filename_static"] if rule.endpoint == "static" else values[arg]
        url = url.replace(f"<{arg}>", str(value)).replace(f"<int:{arg}>", str(value)).replace(
            f"<path:{arg}>", str(value))
    return url


def _category(response) -> str:
    if response.status_code >= 500:
        return f"error {response.status_code}"
    if response.status_code in (301, 302, 303) and "/auth/login" in response.headers.get("Location", ""):
        return LOGIN
    if response.status_code == 403:
        return FORBID
    if response.status_code == 404:
        return HIDE
    return ALLOW


def _requests(app):
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint in LAST, LAST.index(r.endpoint)
                                                            if r.endpoint in LAST else 0, r.rule))
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}, reverse=True):  # GET before POST
            yield rule, method


def test_every_route_has_an_expectation(app):
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(EXPECTED))
    assert missing == [], f"routes without an access expectation: {missing}"
    stale = sorted(set(EXPECTED) - {rule.endpoint for rule in app.url_map.iter_rules()})
    assert stale == [], f"expectations for routes that no longer exist: {stale}"


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app, db, world, role):
    client = app.test_client()
    auth = Auth(client, db)
    if role != "anon":
        assert auth.login(world["users"][role]).status_code == 302
    token = csrf_token_from(client.get("/accessibility").get_data(as_text=True))
    wrong = []
    for rule, method in _requests(app):
        expected = EXPECTED[rule.endpoint]
        expected = expected.get(method, expected.get("*")) if "GET" in expected or "POST" in expected else expected
        url = _url(rule, world["values"])
        if method == "GET":
            response = client.get(url)
        else:
            if rule.endpoint in LAST:  # the session may have just ended: a fresh token for the new one
                token = csrf_token_from(client.get("/accessibility").get_data(as_text=True))
            response = client.post(url, data={"csrf_token": token})
        got = _category(response)
        response.close()
        if got != expected[role]:
            wrong.append(f"{method} {url} ({rule.endpoint}): expected {expected[role]}, got {got} "
                         f"[{response.status_code}]")
    assert wrong == [], f"{role}:\n" + "\n".join(wrong)


def test_every_state_change_needs_a_csrf_token(app, db, world):
    """POST without a CSRF token is refused on every route, before the view runs."""
    client = app.test_client()
    Auth(client, db).login(world["users"]["clinician"])
    accepted = []
    for rule, method in _requests(app):
        if method != "POST" or rule.endpoint in LAST:
            continue
        response = client.post(_url(rule, world["values"]), data={})
        if response.status_code != 400:
            accepted.append(f"{rule.rule} -> {response.status_code}")
        response.close()
    assert accepted == []
