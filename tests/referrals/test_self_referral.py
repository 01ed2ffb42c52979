"""Self-referral: who may come in by e-ID, what a request reaches, and the unit's answer.

Through the real views (CSRF and two-factor included) where a person acts;
the e-ID matching is called with verified claims (the browser journey in
tests/e2e/test_self_referral_journey.py runs it against the real test provider).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

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
