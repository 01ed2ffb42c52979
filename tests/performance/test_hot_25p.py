"""The patient's hot pages at their statement counts (issue 25): a regression fails here.

The session's statement carries the patient's enrolment (with its unit and
schedule changes) and the navigation's count, so a module page is
the session, the page view (an upsert that returns the module's progress)
and the answers. Each page
is requested once to warm up (first-request writes, caches), then counted, as
tests/performance/bounds.py does; BEGIN and PRAGMA are not statements here.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.performance.bounds import listing
from tests.performance.test_query_bounds import PROGRAMME, _blocks, _user
from webapp.core.db import utcnow
from webapp.messages.models import Conversation, Message
from webapp.programme.models import ScheduleEntry

# The new counts: lower them when a change cuts a statement, never raise them to pass.
MODULE_PAGE = 3  # session + user + enrolment + schedule changes + unread count; the page view (upsert); answers
SAVE_ANSWER = 4  # session + enrolment + schedule changes; the answer (locked); its update; its version
START_PAGE = 5  # session + onboarding + unread count; enrolments + schedule changes; conversations; which optional cards have anything (none here); progress
MESSAGE_THREAD = 3  # session + enrolment + unread count; the messages; marking them read


@pytest.fixture
def patient_world(app, db, make, auth):
    """A logged-in patient ten weeks into the pain school, a module left out and one unread message."""
    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = _user(make, "clinician", units=[unit], name="Elsa Exempel")
    patient = _user(make, "patient", name="Kim Exempelsson")
    enrolment = make.enrolment(patient, unit, clinician, programme=PROGRAMME, started_at=utcnow() - timedelta(weeks=10))
    blocks = [b for b in _blocks() if b[1] == "reflection"]
    module_id, _kind, block_id, _question = blocks[0]
    # Two left out: the joined read of the schedule changes must bring every row, not the first.
    skipped = list(dict.fromkeys(b[0] for b in _blocks() if b[0] != module_id))[:2]
    db.session.add_all([
        *(ScheduleEntry(enrolment_id=enrolment.id, module_id=m, is_skipped=True, updated_at=utcnow()) for m in skipped),
        Conversation(enrolment_id=enrolment.id, unread_for_patient=1, unread_for_staff=0, last_message_at=utcnow()),
        Message(enrolment_id=enrolment.id, author_id=clinician.id, side="staff", body="Hej Kim", created_at=utcnow()),
    ])
    db.session.commit()
    assert auth.login(patient).status_code == 302
    return {"enrolment": enrolment, "module": module_id, "block": block_id, "skipped": skipped,
            "page": _page_of(module_id, block_id), "clinician": clinician, "unit": unit}


def _page_of(module_id: str, block_id: str) -> int:
    from webapp.content.services import get_catalogue

    module = next(m for m in get_catalogue().programmes[PROGRAMME].published_modules if m.id == module_id)
    version, _fallback = module.version("sv")
    return next(n for n, page in enumerate(version.pages, 1) if any(s.id == block_id for s in page.segments))


def _count(client, count_queries, method: str, url: str, **kwargs):
    """Warm up once, then count the second request."""
    call = getattr(client, method)
    warm = call(url, **kwargs)
    assert warm.status_code in (200, 302), f"{url} answered {warm.status_code}"
    with count_queries() as counter:
        response = call(url, **kwargs)
    return counter, response


def _bound(name: str, counter, bound: int) -> None:
    print(f"{name}: {counter.count} statements (bound {bound})")
    assert counter.count <= bound, f"{name}: {counter.count} statements, at most {bound}:\n{listing(counter)}"


def test_module_page(patient_world, client, count_queries):
    w = patient_world
    url = f"/e/{w['enrolment'].id}/{w['module']}/{w['page']}"
    counter, response = _count(client, count_queries, "get", url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "1 nytt meddelande" in html or "1 new message" in html, "the navigation's count is missing"
    _bound("module page", counter, MODULE_PAGE)


def test_save_answer(patient_world, client, auth, count_queries):
    w = patient_world
    e = w["enrolment"]
    token = auth.token(f"/e/{e.id}/{w['module']}/{w['page']}")
    url = f"/e/{e.id}/answers/{w['block']}"
    headers = {"Accept": "application/json", "X-CSRFToken": token}
    first = client.post(url, data={"text": "Första", "page": str(w["page"])}, headers=headers)
    assert first.get_json()["status"] == "saved"
    with count_queries() as counter:
        response = client.post(url, data={"text": "Andra", "page": str(w["page"]),
                                          "base_version": str(first.get_json()["version"])}, headers=headers)
    assert response.get_json()["status"] == "saved" and response.get_json()["version"] == 2
    _bound("save an answer", counter, SAVE_ANSWER)


def test_start_page(patient_world, client, count_queries):
    counter, response = _count(client, count_queries, "get", "/home")
    assert response.status_code == 200
    assert "Elsa Exempel" in response.get_data(as_text=True)
    _bound("start page", counter, START_PAGE)


def test_message_thread(patient_world, client, count_queries):
    counter, response = _count(client, count_queries, "get", f"/e/{patient_world['enrolment'].id}/messages")
    assert response.status_code == 200
    assert "Hej Kim" in response.get_data(as_text=True)
    _bound("message thread", counter, MESSAGE_THREAD)


# --- what the read-ahead must keep right -------------------------------------------------------


def test_reading_the_thread_clears_the_count_on_the_same_page(patient_world, client):
    html = client.get(f"/e/{patient_world['enrolment'].id}/messages").get_data(as_text=True)
    assert "Hej Kim" in html
    assert 'class="count"' not in html, "the thread that was just read still counts its message as new"
    assert 'class="count"' not in client.get("/home").get_data(as_text=True)


def test_left_out_modules_are_still_404(patient_world, client):
    assert len(patient_world["skipped"]) == 2
    for module_id in patient_world["skipped"]:
        assert client.get(f"/e/{patient_world['enrolment'].id}/{module_id}/1").status_code == 404, module_id
    # And the start page counts neither in the plan.
    from webapp.content.services import get_catalogue

    planned = len(get_catalogue().programmes[PROGRAMME].published_modules) - 2
    assert f"0 av {planned} moduler klara" in client.get("/home").get_data(as_text=True)


def test_someone_elses_enrolment_is_404(patient_world, client, make):
    other = make.enrolment(make.user("patient"), patient_world["unit"], programme=PROGRAMME,
                           started_at=utcnow() - timedelta(weeks=10))
    for url in (f"/e/{other.id}/{patient_world['module']}/1", f"/e/{other.id}/messages", f"/e/{other.id}/"):
        assert client.get(url).status_code == 404, url


def test_the_clinicians_waiting_count(patient_world, client, auth, db):
    e = patient_world["enrolment"]
    conversation = db.session.get(Conversation, e.id)
    conversation.waiting_since = utcnow()
    db.session.commit()
    auth.logout()
    assert auth.login(patient_world["clinician"]).status_code == 302
    html = client.get("/clinician/inbox").get_data(as_text=True)
    assert "1 väntar" in html or "1 waiting" in html


def test_the_waiting_count_is_of_the_clinicians_own_units_while_others_are_logged_in(patient_world, app, make, db):
    """The count read beside the session counts this clinician's units, not those of every session."""
    from tests.fixtures.plugin import Auth

    e = patient_world["enrolment"]
    db.session.get(Conversation, e.id).waiting_since = utcnow()
    db.session.commit()
    elsewhere = _user(make, "clinician", units=[make.unit(name="Vårdcentralen Norr")], name="Nils Norr")
    theirs, ours = app.test_client(), app.test_client()
    assert Auth(theirs, db).login(elsewhere).status_code == 302
    assert Auth(ours, db).login(patient_world["clinician"]).status_code == 302
    import re

    def counts(page: str) -> list[str]:  # the navigation's badges (menu button and link)
        return re.findall(r'<span class="count">(\d+)', page.split("<main", 1)[0])

    assert counts(ours.get("/clinician/inbox").get_data(as_text=True)) == ["1", "1"]
    assert counts(theirs.get("/clinician/inbox").get_data(as_text=True)) == []


def test_a_page_view_adds_pages_and_reading_time_in_one_statement(patient_world, app, db, count_queries):
    """The upsert keeps what is stored: pages seen are added to, time is summed, the first opening stays."""
    from webapp.content.services import get_catalogue
    from webapp.programme import services

    e = patient_world["enrolment"]
    programme = get_catalogue().programmes[PROGRAMME]
    with app.test_request_context():
        scheduled = services.find_scheduled(services.schedule_for(e, programme, with_progress=False),
                                            patient_world["module"])
        first = services.record_page_view(e, scheduled, 1, None, now=utcnow() - timedelta(minutes=5))
        first_opened = first.first_opened_at
        key = f"{e.id}:{patient_world['module']}"
        with count_queries() as counter:
            progress = services.record_page_view(e, scheduled, 3, {"key": key, "at": int(utcnow().timestamp()) - 40})
        assert counter.count == 1, listing(counter)
        # Too long on a page (the phone was put away) is not reading time.
        services.record_page_view(e, scheduled, 2, {"key": key, "at": int(utcnow().timestamp()) - 3600})
        db.session.commit()
    db.session.expire_all()
    stored = db.session.get(type(progress), progress.id)
    assert stored.pages_seen_mask == 0b111 and stored.last_page == 2
    assert 40 <= stored.seconds_spent <= 42
    assert stored.first_opened_at == first_opened


def _add_optional(kind: str, world, db) -> str:
    """One row of an optional start-page card for the patient's enrolment; returns what the page must then show."""
    import json

    from flask import url_for
    from flask_babel import force_locale, gettext

    from webapp.careplan.models import CarePlan, CarePlanVersion, FollowUpContact
    from webapp.content.services import get_catalogue
    from webapp.groups.models import Group, GroupMember, GroupSession
    from webapp.library.models import SharedInformation
    from webapp.questionnaires.models import Dispatch
    from webapp.replies.models import ReferralReply

    enrolment, clinician = world["enrolment"], world["clinician"]
    earlier = utcnow() - timedelta(days=1)
    if kind == "questionnaires":
        dispatch = Dispatch(enrolment_id=enrolment.id, form_id="phq-9", sent_by_id=clinician.id, purpose="manual",
                            created_at=earlier, send_at=earlier, draft="{}", reminders_sent=0)
        db.session.add(dispatch)
        db.session.flush()
        return url_for("questionnaires.answer", enrolment_id=enrolment.id, dispatch_id=dispatch.id)
    if kind == "plans":
        plan = CarePlan(enrolment_id=enrolment.id, created_at=earlier)
        db.session.add(plan)
        db.session.flush()
        db.session.add(CarePlanVersion(plan_id=plan.id, number=1, created_at=earlier, content=json.dumps(
            {"goals": [{"matters": "Gå till jobbet", "able_to": "Cykla"}], "activities": [], "review_on": ""})))
        return 'class="plan-card"'
    if kind == "contacts":
        db.session.add(FollowUpContact(enrolment_id=enrolment.id, kind="phone", due_at=utcnow() + timedelta(days=3),
                                       purpose="", created_by_id=clinician.id))
        with force_locale("sv"):
            return gettext("Planned contacts with your care team")
    if kind == "groups":
        group = Group(care_unit_id=world["unit"].id, programme_id=PROGRAMME, name="Grupp Ek", created_at=earlier)
        db.session.add(group)
        db.session.flush()
        db.session.add_all([GroupMember(group_id=group.id, enrolment_id=enrolment.id, added_at=earlier),
                            GroupSession(group_id=group.id, starts_at=utcnow() + timedelta(days=7), topic="Träff Ek")])
        return "Träff Ek"
    if kind == "information":
        programme = next(p for p in get_catalogue().programmes.values() if p.public and p.published_modules)
        db.session.add(SharedInformation(enrolment_id=enrolment.id, programme_id=programme.id,
                                         module_id=programme.published_modules[0].id, shared_by_id=clinician.id))
        return 'class="shared-information"'
    assert kind == "replies"
    db.session.add(ReferralReply(enrolment_id=enrolment.id, number=1, locale="sv", recipient="Vårdcentralen Norr",
                                 content=json.dumps({"recommendations": "Fortsätt med promenaderna."})))
    return url_for("replies.patient_reply", enrolment_id=enrolment.id)


@pytest.mark.parametrize("kind", ["questionnaires", "plans", "contacts", "groups", "information", "replies"])
def test_the_start_page_reads_an_optional_card_only_when_it_has_something(patient_world, app, client, db,
                                                                          count_queries, kind):
    """One statement says which optional cards have rows; a card with one is read and shown."""
    with app.test_request_context():
        shown = _add_optional(kind, patient_world, db)
    db.session.commit()
    counter, response = _count(client, count_queries, "get", "/home")
    assert shown in response.get_data(as_text=True)
    assert START_PAGE < counter.count <= START_PAGE + 1
