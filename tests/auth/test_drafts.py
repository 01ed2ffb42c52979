"""Text typed into a form when the session had ended is given back after login, never lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import PASSWORD, Auth, csrf_token_from
from webapp.auth.models import UserSession
from webapp.core.db import utcnow
from webapp.core.drafts import Draft
from webapp.messages.models import Message
from webapp.programme.models import Answer

TEXT = "Jag har haft en tuff vecka med mycket värk, men promenaderna hjälper."


def _expire(db, user) -> None:
    """Let the user's sessions go idle past the timeout, as if they had stepped away."""
    for row in db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)):
        row.last_seen_at = utcnow() - timedelta(hours=3)
    db.session.commit()


def _log_in_again(client, user, next_path):
    token = csrf_token_from(client.get(f"/auth/login?next={next_path}").get_data(as_text=True))
    response = client.post("/auth/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD,
                                                "next": next_path})
    if response.status_code == 302 and response.location.endswith("/auth/two-factor"):  # the second step
        from webapp.extensions import db

        response = Auth(client, db).post("/auth/two-factor", {"code": Auth(client, db).next_code(user)},
                                         "/auth/two-factor")
    return response


@pytest.fixture
def patient_world(app, make, db):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    patient = make.user("patient")
    enrolment = make.enrolment(patient, unit, clinician)
    client = app.test_client()
    Auth(client, db).login(patient)
    return {"client": client, "patient": patient, "clinician": clinician, "enrolment": enrolment}


def test_a_message_written_into_an_expired_session_comes_back_after_login(app, db, patient_world):
    client, patient, enrolment = patient_world["client"], patient_world["patient"], patient_world["enrolment"]
    thread = f"/e/{enrolment.id}/messages"
    token = csrf_token_from(client.get(thread).get_data(as_text=True))
    _expire(db, patient)
    response = client.post(thread, data={"csrf_token": token, "body": TEXT}, headers={"Referer": f"http://localhost{thread}"})
    assert response.status_code == 302 and "/auth/login" in response.location
    assert "next=" in response.location and "/messages" in response.location
    # Kept encrypted, for this browser: the text is not readable in the database.
    row = db.session.scalars(select(Draft)).one()
    assert TEXT.encode() not in row.ciphertext and "v%C3%A4rk" not in row.return_path
    assert db.session.scalar(select(Message.id)) is None

    response = _log_in_again(client, patient, thread)
    assert response.status_code == 302 and response.location.endswith(thread)
    page = client.get(thread).get_data(as_text=True)
    assert f"{TEXT}</textarea>" in page and 'class="flash flash-info"' in page
    assert db.session.scalars(select(Draft)).all() == []  # given back once
    assert TEXT not in client.get(thread).get_data(as_text=True)


def test_another_browser_never_sees_the_draft(app, db, patient_world):
    client, patient, enrolment = patient_world["client"], patient_world["patient"], patient_world["enrolment"]
    thread = f"/e/{enrolment.id}/messages"
    token = csrf_token_from(client.get(thread).get_data(as_text=True))
    _expire(db, patient)
    client.post(thread, data={"csrf_token": token, "body": TEXT}, headers={"Referer": f"http://localhost{thread}"})
    elsewhere = app.test_client()
    _log_in_again(elsewhere, patient, thread)
    assert TEXT not in elsewhere.get(thread).get_data(as_text=True)


def test_an_answer_without_javascript_comes_back_on_its_page_not_a_405(app, db, patient_world):
    from webapp.content.services import get_catalogue

    client, patient, enrolment = patient_world["client"], patient_world["patient"], patient_world["enrolment"]
    module = get_catalogue().programmes["pain-school"].published_modules[0]
    kind, block, _items = next(b for b in module.answer_ids() if b[0] == "reflection")
    page_path = next(f"/e/{enrolment.id}/{module.id}/{n}" for n in range(1, 20)
                     if f'/answers/{block}"' in client.get(f"/e/{enrolment.id}/{module.id}/{n}").get_data(as_text=True))
    token = csrf_token_from(client.get(page_path).get_data(as_text=True))
    _expire(db, patient)
    response = client.post(f"/e/{enrolment.id}/answers/{block}",
                           data={"csrf_token": token, "text": TEXT, "page": page_path.rsplit("/", 1)[1],
                                 "base_version": "0"},
                           headers={"Referer": f"http://localhost{page_path}"})
    assert response.status_code == 302 and "/auth/login" in response.location
    response = _log_in_again(client, patient, page_path)
    assert response.location.endswith(page_path)
    page = client.get(page_path)
    assert page.status_code == 200 and TEXT in page.get_data(as_text=True)
    assert db.session.scalar(select(Answer.id)) is None  # shown back, saved when the patient says so


def test_the_autosave_gets_401_and_the_text_is_kept(app, db, patient_world):
    from webapp.content.services import get_catalogue

    client, patient, enrolment = patient_world["client"], patient_world["patient"], patient_world["enrolment"]
    module = get_catalogue().programmes["pain-school"].published_modules[0]
    block = next(b for kind, b, _items in module.answer_ids() if kind == "reflection")
    token = csrf_token_from(client.get(f"/e/{enrolment.id}/").get_data(as_text=True))
    _expire(db, patient)
    response = client.post(f"/e/{enrolment.id}/answers/{block}", data={"csrf_token": token, "text": TEXT},
                           headers={"Accept": "application/json", "Referer": f"http://localhost/e/{enrolment.id}/"})
    assert response.status_code == 401 and response.get_json() == {"error": "login", "kept": True}


def test_a_care_plan_and_a_contact_note_are_kept_too(app, db, make, patient_world):
    """Staff forms: the care plan editor and the contact outcome note."""
    from webapp.careplan.services import schedule_contact

    clinician, enrolment = patient_world["clinician"], patient_world["enrolment"]
    contact = schedule_contact(enrolment, clinician, "phone", utcnow() + timedelta(hours=1), "")
    db.session.commit()
    staff = app.test_client()
    Auth(staff, db).login(clinician)
    edit = f"/clinician/enrolments/{enrolment.id}/plan"
    overview = f"/clinician/enrolments/{enrolment.id}/care"  # the contacts' section of the enrolment page
    token = csrf_token_from(staff.get(edit).get_data(as_text=True))
    _expire(db, clinician)
    staff.post(edit, data={"csrf_token": token, "action": "share", "goal_matters_0": "Kunna gå till affären",
                           "goal_able_0": "Gå 20 minuter"}, headers={"Referer": f"http://localhost{edit}"})
    staff.post(f"/clinician/contacts/{contact.id}/outcome", data={"csrf_token": token, "outcome": "kept",
                                                                  "note": "Samtalet gick bra"},
               headers={"Referer": f"http://localhost{overview}"})
    auth = Auth(staff, db)
    auth.login(clinician)
    assert "Kunna gå till affären" in staff.get(edit).get_data(as_text=True)
    assert "Samtalet gick bra" in staff.get(overview).get_data(as_text=True)


def test_a_diary_registration_typed_as_the_session_ended_comes_back_in_the_diary(app, db, patient_world):
    from webapp.content.services import get_catalogue
    from webapp.programme.models import DiaryEntry, ScheduleEntry

    client, patient, enrolment = patient_world["client"], patient_world["patient"], patient_world["enrolment"]
    module = next(m for m in get_catalogue().programmes["pain-school"].published_modules if m.diary_ids())
    diary = module.diary_ids()[0]
    db.session.add(ScheduleEntry(enrolment_id=enrolment.id, module_id=module.id, opens_at=utcnow()))
    db.session.commit()
    page_path = f"/e/{enrolment.id}/diary/{diary}"
    token = csrf_token_from(client.get(page_path).get_data(as_text=True))
    _expire(db, patient)
    response = client.post(f"{page_path}/entries", data={"csrf_token": token, "v-activity": "45", "v-sleep": "6,5"},
                           headers={"Referer": f"http://localhost{page_path}"})
    assert response.status_code == 302 and "/auth/login" in response.location
    _log_in_again(client, patient, page_path)
    html = client.get(page_path).get_data(as_text=True)
    assert 'name="v-activity" value="45"' in html and 'name="v-sleep" value="6,5"' in html
    assert db.session.scalar(select(DiaryEntry.id)) is None  # shown back, saved when the patient says so
