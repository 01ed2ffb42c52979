"""Self-referral: who may come in by e-ID, what a request reaches, and the unit's answer.

Through the real views (CSRF and two-factor included) where a person acts;
the e-ID matching is called with verified claims (the browser journey in
tests/e2e/test_self_referral_journey.py runs it against the real test provider).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.fixtures.plugin import Auth
from webapp.auth import oidc
from webapp.auth.models import User
from webapp.core.audit import AccessLogEntry
from webapp.notifications.models import OutboxItem
from webapp.programme.enrolments import enrolments_for_patient
from webapp.programme.models import Enrolment
from webapp.questionnaires.models import SafetyAlert
from webapp.referrals import services
from webapp.referrals.models import Referral, ReferralOffer

PNR_CLAIM = "https://id.oidc.se/claim/personalIdentityNumber"
ANSWERS = {f"q{n}": "1" for n in range(1, 10)} | {"q9": "0"}


@pytest.fixture
def unit_offer(db, make):
    unit, other = make.unit(name="Smärtmottagningen Ekdal"), make.unit(name="Vårdcentralen Annan")
    clinician = make.user("clinician", units=[unit])
    outsider = make.user("clinician", units=[other])
    offer = ReferralOffer(care_unit_id=unit.id, programme_id="pain-school", screening_forms="phq-9", is_open=True)
    db.session.add(offer)
    db.session.commit()
    return {"unit": unit, "clinician": clinician, "outsider": outsider, "offer": offer}


def _refer(app, db, make, offer, answers=ANSWERS, send=True):
    """A resident (local login) starts a request, answers PHQ-9 and sends it, through the views."""
    resident = make.user("patient", name="Tove Invånare", personal_number="199001012385")
    db.session.commit()
    client = app.test_client()
    auth = Auth(client, db)
    auth.login(resident)
    assert auth.post(f"/referral/{offer.id}/start", token_url=f"/referral/{offer.id}").status_code == 302
    referral = db.session.scalar(select(Referral).join(Enrolment).where(Enrolment.patient_id == resident.id))
    dispatch = services.screening_dispatches(referral)[0]
    url = f"/referral/r/{referral.id}/form/{dispatch.id}"
    assert auth.post(url, {"action": "submit", **answers}, token_url=url).status_code == 302
    if send:
        assert auth.post(f"/referral/r/{referral.id}/send", token_url=f"/referral/r/{referral.id}").status_code == 302
    db.session.expire_all()
    return resident, referral, auth


def test_eid_makes_a_bare_account_only_from_a_self_referral_page(app, db):
    claims = {PNR_CLAIM: "198112189876", "name": "Sam Invånare"}
    with app.test_request_context():
        with pytest.raises(oidc.EidRefused) as refused:
            oidc.match_patient(claims)
        assert refused.value.reason == "no_access"
        assert db.session.scalar(select(User).where(User.personal_number == "198112189876")) is None
        user = oidc.match_patient(claims, may_register=True)
        assert (user.role, user.full_name, user.password_hash) == ("patient", "Sam Invånare", None)
        # The account reaches nothing, and an ordinary e-ID login is still refused until a request exists.
        assert enrolments_for_patient(user) == []
        with pytest.raises(oidc.EidRefused):
            oidc.match_patient(claims)


def test_a_sent_request_is_on_its_units_triage_list_only_with_its_score(app, db, make, unit_offer):
    resident, referral, _auth = _refer(app, db, make, unit_offer["offer"])
    assert referral.status == "waiting" and referral.enrolment.status == "referred"
    # Not a programme of the resident yet, and not on any caseload's "open" list.
    assert enrolments_for_patient(resident) == [] and not referral.enrolment.is_open
    with app.test_request_context():
        assert [r.patient.id for r in services.triage(unit_offer["clinician"])] == [resident.id]
        assert services.triage(unit_offer["outsider"]) == []
    client = app.test_client()
    Auth(client, db).login(unit_offer["clinician"])
    page = client.get("/clinician/triage").get_data(as_text=True)
    assert "Tove Invånare" in page and "<strong>8</strong> (Lindrig)" in page
    logged = db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "referrals.triage")).all()
    assert len(logged) == 1 and str(resident.id) in str(logged[0].patient_ids)
    outsider = app.test_client()
    Auth(outsider, db).login(unit_offer["outsider"])
    assert "Tove Invånare" not in outsider.get("/clinician/triage").get_data(as_text=True)
    assert outsider.get(f"/clinician/triage/{referral.id}").status_code == 404


def test_accepting_opens_access_with_the_welcome_text(app, db, make, unit_offer):
    resident, referral, auth = _refer(app, db, make, unit_offer["offer"])
    clinician = app.test_client()
    staff = Auth(clinician, db)
    staff.login(unit_offer["clinician"])
    url = f"/clinician/triage/{referral.id}"
    assert staff.post(url, {"action": "accept", "welcome_text": "Välkommen, vi hörs!"}, token_url=url).status_code == 302
    db.session.expire_all()
    enrolment = db.session.get(Enrolment, referral.enrolment_id)
    assert (enrolment.status, enrolment.welcome_text) == ("active", "Välkommen, vi hörs!")
    assert enrolment.responsible_clinician_id == unit_offer["clinician"].id
    assert "Välkommen, vi hörs!" in auth.client.get("/home").get_data(as_text=True)
    # A second answer is refused with a message; the request stays accepted.
    again = staff.post(url, {"action": "decline", "message": "x"}, token_url="/accessibility", follow_redirects=True)
    assert "Någon har redan svarat på förfrågan." in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Enrolment, referral.enrolment_id).status == "active"


@pytest.mark.parametrize("action", ["visit", "decline"])
def test_visit_and_decline_tell_the_resident_without_content(app, db, make, unit_offer, action):
    resident, referral, auth = _refer(app, db, make, unit_offer["offer"])
    staff = Auth(app.test_client(), db)
    staff.login(unit_offer["clinician"])
    url = f"/clinician/triage/{referral.id}"
    # The message is required: the refused form keeps the welcome text and says what is missing.
    refused = staff.post(url, {"action": action, "message": "  "}, token_url=url)
    assert refused.status_code == 400 and "Skriv vad invånaren behöver veta." in refused.get_data(as_text=True)
    message = "Ring oss på 010-123 45 67 för en tid om din nedstämdhet."
    assert staff.post(url, {"action": action, "message": message}, token_url=url).status_code == 302
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == {"visit": "visit", "decline": "declined"}[action]
    assert db.session.get(Enrolment, referral.enrolment_id).status == ("closed" if action == "decline" else "referred")
    notices = db.session.scalars(select(OutboxItem).where(OutboxItem.user_id == resident.id)).all()
    assert {n.kind for n in notices} == {"referral_answered"}
    for notice in notices:
        payload = json.loads(notice.payload)
        text = json.dumps(payload, ensure_ascii=False)
        for secret in ("nedstämdhet", "smärtskola", "PHQ", "Tove", resident.personal_number, "010-123"):
            assert secret not in text
    page = auth.client.get(f"/referral/r/{referral.id}").get_data(as_text=True)
    assert message in page


def test_a_safety_answer_in_the_screening_is_an_alert_at_once(app, db, make, unit_offer):
    resident, referral, _auth = _refer(app, db, make, unit_offer["offer"], answers={**ANSWERS, "q9": "2"}, send=False)
    alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.enrolment_id == referral.enrolment_id))
    assert alert is not None and alert.acknowledged_at is None and alert.escalate_at > alert.created_at
    staff = Auth(app.test_client(), db)
    staff.login(unit_offer["clinician"])
    assert "Tove Invånare" in staff.client.get("/clinician/alerts").get_data(as_text=True)


def test_a_closed_offer_is_not_offered_and_cannot_be_started(app, db, make, unit_offer):
    offer = unit_offer["offer"]
    offer.is_open = False
    db.session.commit()
    client = app.test_client()
    assert "Digital smärtskola" not in client.get("/referral/").get_data(as_text=True)
    assert client.get(f"/referral/{offer.id}").status_code == 404
    resident = make.user("patient")
    db.session.commit()
    auth = Auth(client, db)
    auth.login(resident)
    assert auth.post(f"/referral/{offer.id}/start").status_code == 404


# --- registration codes ----------------------------------------------------------------


def _codes(app, db, unit_offer, n=1):
    with app.test_request_context():
        made = services.create_codes(unit_offer["offer"], n, "Grupp 12 januari", unit_offer["clinician"])
    db.session.commit()
    return made


def _register(client, code, pnr="198112189876", email="ny@example.se"):
    from tests.fixtures.plugin import csrf_token_from

    token = csrf_token_from(client.get("/register").get_data(as_text=True))
    return client.post("/register", data={"csrf_token": token, "code": code, "full_name": "Nora Ny",
                                          "personal_number": pnr, "email": email})


def test_a_code_is_used_once_and_each_use_is_audited(app, db, unit_offer):
    from webapp.auth.models import AuthToken

    code = _codes(app, db, unit_offer)[0]
    client = app.test_client()
    # Typed in lower case and without the dash, it still works.
    assert _register(client, code.lower().replace("-", "")).status_code == 200
    patient = db.session.scalar(select(User).where(User.personal_number == "198112189876"))
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.patient_id == patient.id))
    assert (enrolment.programme_id, enrolment.care_unit_id, enrolment.status) == (
        "pain-school", unit_offer["unit"].id, "invited")
    # The invitation link sets the password and second factor as any local login requires.
    assert db.session.scalar(select(AuthToken.id).where(AuthToken.user_id == patient.id)) is not None
    again = _register(app.test_client(), code, pnr="199001012385", email="annan@example.se")
    assert again.status_code == 400 and "Koden har redan använts." in again.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.personal_number == "199001012385")) is None
    events = [e.action for e in db.session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id))]
    assert events.count("security.registration_code_used") == 1
    assert events.count("security.registration_code_refused") == 1
    assert "security.registration_codes_created" in events


def test_unknown_and_expired_codes_are_refused_with_a_clear_message(app, db, unit_offer):
    from datetime import timedelta

    from webapp.referrals.models import RegistrationCode

    code = _codes(app, db, unit_offer)[0]
    unknown = _register(app.test_client(), "AAAAA-AAAAA")
    assert unknown.status_code == 400 and "Lotsa känner inte till koden." in unknown.get_data(as_text=True)
    row = db.session.scalar(select(RegistrationCode))
    row.expires_at = row.created_at - timedelta(seconds=1)
    db.session.commit()
    expired = _register(app.test_client(), code)
    assert expired.status_code == 400 and "Koden är för gammal." in expired.get_data(as_text=True)
    # What was typed is kept.
    assert "Nora Ny" in expired.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_guessing_codes_is_rate_limited(app, db, unit_offer):
    client = app.test_client()
    statuses = [_register(client, f"GUESS-{n:05d}").status_code for n in range(12)]
    assert 429 in statuses and statuses[0] == 400


def test_two_uses_of_one_code_at_once_one_wins(app, db, unit_offer):
    """Two residents send the same code at the same moment: exactly one gets the programme."""
    import threading

    from webapp.referrals.models import RegistrationCode

    code = _codes(app, db, unit_offer)[0]
    db.session.remove()
    barrier = threading.Barrier(2)
    results = {}

    def use(pnr, email):
        with app.test_request_context():
            barrier.wait()
            try:
                services.redeem(code, personal_number=pnr, full_name="Nora Ny", email=email, locale="sv")
                db.session.commit()
                results[pnr] = "ok"
            except services.ReferralError as exc:
                db.session.rollback()
                results[pnr] = exc.code
            except Exception as exc:  # a serialisation failure is a lost race too
                db.session.rollback()
                results[pnr] = type(exc).__name__
            finally:
                db.session.remove()

    threads = [threading.Thread(target=use, args=args) for args in
               (("198112189876", "a@example.se"), ("199001012385", "b@example.se"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results.values())[-1] == "ok" and list(results.values()).count("ok") == 1, results
    assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 1
    assert db.session.scalar(select(RegistrationCode.used_at)) is not None
