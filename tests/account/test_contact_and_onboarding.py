"""The patient's own contact details, the first-login introduction and the e-mails' sender lines."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import Auth


@pytest.fixture
def world(make, db):
    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Kim Exempelsson", email="kim@lotsa.example")
    enrolment = make.enrolment(patient, unit, clinician)
    db.session.commit()
    return {"unit": unit, "clinician": clinician, "patient": patient, "enrolment": enrolment}


def _outbox(db, kind):
    from webapp.notifications.models import OutboxItem

    return db.session.scalars(select(OutboxItem).where(OutboxItem.kind == kind).order_by(OutboxItem.id)).all()


def test_email_change_is_confirmed_by_a_link_to_the_new_address(app, db, world):
    from webapp.notifications.services import render

    client = app.test_client()
    auth = Auth(client, db)
    auth.login(world["patient"])
    same = auth.post("/account/contact/email", {"email": "KIM@lotsa.example"}, "/account/contact")
    assert same.status_code == 400 and 'aria-invalid="true"' in same.get_data(as_text=True)
    sent = auth.post("/account/contact/email", {"email": "kim.ny@lotsa.example"}, "/account/contact")
    assert sent.status_code == 302
    db.session.expire_all()
    assert world["patient"].email == "kim@lotsa.example"  # unchanged until the link is used
    (item,) = _outbox(db, "email_confirm")
    assert item.address == "kim.ny@lotsa.example"
    text = render(item)
    assert "Vårdcentralen Ekbacken" in text.body and "Elsa Exempel" in text.body
    path = re.search(r"http://localhost(/account/contact/email/\S+)", text.body).group(1)
    # The link works in any browser, logged in or not, once.
    anonymous = app.test_client()
    assert anonymous.get(path).status_code == 302
    db.session.expire_all()
    assert world["patient"].email == "kim.ny@lotsa.example"
    assert anonymous.get(path).status_code == 410
    assert anonymous.get("/account/contact/email/not-a-token").status_code == 404
    (notice,) = _outbox(db, "email_changed")
    assert notice.address == "kim@lotsa.example"  # the old address hears about it
    assert "kim.ny" not in render(notice).body


def test_an_address_of_another_account_is_refused_when_the_link_is_used(app, db, world, make):
    make.user("patient", email="taken@lotsa.example")
    db.session.commit()
    client = app.test_client()
    auth = Auth(client, db)
    auth.login(world["patient"])
    auth.post("/account/contact/email", {"email": "taken@lotsa.example"}, "/account/contact")
    from webapp.notifications.services import render

    (item,) = _outbox(db, "email_confirm")
    path = re.search(r"http://localhost(/account/contact/email/\S+)", render(item).body).group(1)
    assert client.get(path).status_code == 410
    db.session.expire_all()
    assert world["patient"].email == "kim@lotsa.example"


def test_mobile_number_is_confirmed_by_an_sms_code(app, db, world):
    client = app.test_client()
    auth = Auth(client, db)
    auth.login(world["patient"])
    bad = auth.post("/account/contact/phone", {"phone": "08-123 456"}, "/account/contact")
    assert bad.status_code == 400
    assert auth.post("/account/contact/phone", {"phone": "070-174 06 05"}, "/account/contact").status_code == 302
    (item,) = _outbox(db, "phone_code")
    assert item.address == "+46701740605" and item.channel == "sms"
    code = json.loads(item.payload)["code"]
    db.session.expire_all()
    assert world["patient"].phone is None  # not before the code comes back
    wrong = "000000" if code != "000000" else "111111"
    assert auth.post("/account/contact/phone/confirm", {"code": wrong}, "/account/contact").status_code == 400
    ok = auth.post("/account/contact/phone/confirm", {"code": " ".join([code[:3], code[3:]])}, "/account/contact")
    assert ok.status_code == 302
    db.session.expire_all()
    assert world["patient"].phone == "+46701740605" and world["patient"].phone_verified_at is not None
    # Now SMS can be chosen on the settings page.
    page = client.get("/account/notifications").get_data(as_text=True)
    assert 'id="new_message-sms"' in page and 'id="sms-note"' not in page


def test_guessing_the_code_stops_after_a_few_tries(app, db, world):
    from webapp.account.services import PHONE_CODE_ATTEMPTS

    client = app.test_client()
    auth = Auth(client, db)
    auth.login(world["patient"])
    auth.post("/account/contact/phone", {"phone": "0701740605"}, "/account/contact")
    code = json.loads(_outbox(db, "phone_code")[0].payload)["code"]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(PHONE_CODE_ATTEMPTS):
        auth.post("/account/contact/phone/confirm", {"code": wrong}, "/account/contact")
    assert auth.post("/account/contact/phone/confirm", {"code": code}, "/account/contact").status_code == 400
    db.session.expire_all()
    assert world["patient"].phone_verified_at is None


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_asking_for_codes_is_rate_limited(app, db, world):
    client = app.test_client()
    auth = Auth(client, db)
    auth.login(world["patient"])
    answers = [auth.post("/account/contact/phone", {"phone": "0701740605"}, "/account/contact").status_code
               for _ in range(6)]
    assert answers[:5] == [302] * 5 and answers[5] == 429


def test_without_a_confirmed_number_the_settings_say_what_to_do(app, db, world):
    client = app.test_client()
    Auth(client, db).login(world["patient"])
    page = client.get("/account/notifications").get_data(as_text=True)
    assert 'id="sms-note"' in page and "/account/contact#phone" in page
    assert 'id="new_message-sms"' not in page and "disabled" not in page
    assert 'id="new_message-email"' in page


def test_accepting_the_invitation_begins_the_introduction(app, db, make, world):
    from webapp.auth.models import TokenPurpose
    from webapp.auth.services import create_token

    newcomer = make.user("patient", password=None)
    make.enrolment(newcomer, world["unit"], world["clinician"], status="invited")
    with app.test_request_context():
        raw = create_token(newcomer, TokenPurpose.INVITATION)
    db.session.commit()
    client = app.test_client()
    auth = Auth(client, db)
    path = f"/auth/invitation/{raw}"
    auth.post(path, {"password": "ett långt lösenord", "confirm": "ett långt lösenord"}, path)
    assert client.get("/home").headers["Location"].endswith("/welcome")
    about = client.get("/welcome/about").get_data(as_text=True)
    assert "Elsa Exempel" in about and "Vårdcentralen Ekbacken" in about
    assert 'href="tel:1177"' in about and 'href="tel:112"' in about
    # The notifications step shows what the e-mail will say: who sends it, not what it is about.
    notices = client.get("/welcome/notifications").get_data(as_text=True)
    assert "Vårdcentralen Ekbacken" in notices and 'id="new_message-email"' in notices
    saved = auth.post("/welcome/notifications", {"choice": ["new_message:email"]}, "/welcome/notifications")
    assert saved.headers["Location"].endswith("/welcome/language")
    from webapp.notifications.services import Kind, channels_for

    assert channels_for(newcomer, Kind.NEW_MESSAGE) == ("email",)
    assert auth.post("/welcome/done", {}, "/welcome/language").headers["Location"].endswith("/home")
    assert client.get("/home").status_code == 200
    assert client.get("/welcome/about").status_code == 200  # still there from My account
    assert client.get("/welcome/nothing").status_code == 404
    # Patients who were never invited (existing accounts) are not sent there.
    other = app.test_client()
    Auth(other, db).login(world["patient"])
    assert other.get("/home").status_code == 200


def test_every_patient_email_names_the_care_unit_and_clinician(app, db, world):
    from webapp.auth.services import send_invitation
    from webapp.messages.services import post_as_staff
    from webapp.notifications.models import NotificationConsent
    from webapp.notifications.services import render
    from webapp.programme.enrolments import sender_of

    db.session.add(NotificationConsent(user_id=world["patient"].id, kind="new_message", channel="email",
                                       is_enabled=True))
    with app.test_request_context():
        send_invitation(world["patient"], world["clinician"], sender=sender_of(world["enrolment"]))
        post_as_staff(world["enrolment"], world["clinician"], "Din smärta i knät låter bättre nu.")
    db.session.commit()
    for kind in ("invitation", "new_message"):
        (item,) = _outbox(db, kind)
        text = render(item)
        assert "Vårdcentralen Ekbacken" in text.body + text.subject and "Elsa Exempel" in text.body, kind
        assert "knä" not in text.body and "Smärtskola" not in text.body, kind  # no health information
