"""The clinician's enrolment page (issue 17): what is new since the clinician's
previous visit, feedback that opens exactly the next module, message templates
in the patient's language, and the outcome of each questionnaire."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.fixtures.plugin import Auth
from webapp.content.services import get_catalogue
from webapp.core.db import utcnow
from webapp.messages.models import Message, MessageTemplate
from webapp.messages.services import fill_placeholders, preview_html
from webapp.programme import services as journey
from webapp.programme.enrolments import VISIT_GAP
from webapp.programme.models import Answer, Enrolment, EnrolmentVisit
from webapp.questionnaires.models import Dispatch, Submission


@pytest.fixture
def unit(make):
    return make.unit(name="Vårdcentralen Ekbacken")


@pytest.fixture
def clinician(make, unit, auth):
    # In English: the strings this issue adds are translated when the catalogues are merged.
    user = make.user("clinician", units=[unit], name="Elsa Exempel", locale="en")
    auth.login(user)
    return user


def _answer(db, enrolment, module_index: int, text: str) -> None:
    """The patient saves an answer to the first reflection of a module of the pain school."""
    module = get_catalogue().programmes["pain-school"].published_modules[module_index]
    kind, block_id, items = next((k, b, i) for k, b, i in module.answer_ids() if k == "reflection")
    journey.save_answer(enrolment, module, block_id, kind, journey.clean_answer(kind, items, text, None, []), None)
    db.session.commit()


def _end_visit(db, clinician, enrolment, ago=VISIT_GAP + timedelta(minutes=1)) -> None:
    """Move the clinician's last page view back, as if they had left that long ago.

    What the patient did before that visit moves back with it (it was saved before the visit).
    """
    db.session.execute(update(Answer).where(Answer.enrolment_id == enrolment.id)
                       .values(updated_at=utcnow() - 2 * ago))
    visit = db.session.get(EnrolmentVisit, (clinician.id, enrolment.id))
    visit.seen_at = utcnow() - ago
    db.session.commit()


def _overview_new(html: str) -> str:
    return html[html.index('id="new-heading"'):html.index('id="next-heading"')]


def test_overview_lists_what_is_new_since_the_clinicians_previous_visit(app, client, clinician, make, unit, db):
    patient = make.user("patient", name="Kim Exempelsson")
    enrolment = make.enrolment(patient, unit, clinician, started_at=utcnow() - timedelta(weeks=3))
    _answer(db, enrolment, 0, "Mitt första svar")
    base = f"/clinician/enrolments/{enrolment.id}"

    first = _overview_new(client.get(base).get_data(as_text=True))
    assert "Introduction and pain physiology (1)" in first

    # Moving between sections in the same visit keeps what is new.
    client.get(f"{base}/schedule")
    again = _overview_new(client.get(base).get_data(as_text=True))
    assert "Introduction and pain physiology (1)" in again

    # The clinician leaves; the patient answers in module 2 and writes a message.
    _end_visit(db, clinician, enrolment)
    _answer(db, enrolment, 1, "Ett nytt svar")
    patient_client = app.test_client()
    Auth(patient_client, db).login(patient)
    Auth(patient_client, db).post(f"/e/{enrolment.id}/messages", {"body": "Hej!"}, f"/e/{enrolment.id}/messages")

    second = _overview_new(client.get(base).get_data(as_text=True))
    assert "Treatment and rehabilitation (1)" in second
    assert "Introduction and pain physiology" not in second  # seen on the first visit
    assert "/messages" in second  # one message from the patient
    # A colleague who has never opened the enrolment sees everything as new.
    colleague = make.user("clinician", units=[unit], locale="en")
    other = app.test_client()
    Auth(other, db).login(colleague)
    theirs = _overview_new(other.get(base).get_data(as_text=True))
    assert "Introduction and pain physiology (1)" in theirs and "Treatment and rehabilitation (1)" in theirs


def test_overview_is_the_top_of_the_page_and_links_every_section(client, clinician, make, unit, db):
    enrolment = make.enrolment(make.user("patient"), unit, clinician)
    html = client.get(f"/clinician/enrolments/{enrolment.id}").get_data(as_text=True)
    nav = html[html.index('class="section-nav"'):html.index("</nav>", html.index('class="section-nav"'))]
    for section in ("answers", "schedule", "outcomes", "care", "settings", "messages"):
        assert f"/clinician/enrolments/{enrolment.id}/{section}" in nav
    assert 'aria-current="page"' in nav
    # The long parts live in their sections, not on the overview.
    assert "Close access" not in html and 'name="rows-0-planned"' not in html


def _after_feedback_enrolment(make, unit, clinician, db):
    enrolment = make.enrolment(make.user("patient", name="Kim Exempelsson"), unit, clinician,
                               started_at=utcnow() - timedelta(weeks=10))
    enrolment.opening = "after-feedback"
    db.session.commit()
    return enrolment


def _open_modules(db, enrolment) -> list[str]:
    db.session.expire_all()
    enrolment = db.session.get(Enrolment, enrolment.id)
    schedule = journey.schedule_for(enrolment, get_catalogue().programmes["pain-school"])
    return [s.module.id for s in schedule if s.is_open]


def test_feedback_opens_exactly_the_next_module_and_marks_the_answers_read(client, auth, clinician, make, unit, db):
    enrolment = _after_feedback_enrolment(make, unit, clinician, db)
    base = f"/clinician/enrolments/{enrolment.id}"
    # Ten weeks in, but after-feedback: only the first module is open.
    assert _open_modules(db, enrolment) == ["pain-physiology"]
    _answer(db, enrolment, 0, "Mitt svar")
    page = client.get(f"{base}/answers").get_data(as_text=True)
    assert "Mitt svar" in page and ">New<" in page  # "new" in words, not by colour alone
    assert 'name="open_next"' in page and 'checked' in page[page.index('name="open_next"') - 80:][:200]

    response = auth.post(f"{base}/feedback", {"body": "Bra jobbat!", "open_next": "y", "send": "1"}, f"{base}/answers")
    assert response.status_code == 302
    assert _open_modules(db, enrolment) == ["pain-physiology", "treatment"]
    message = db.session.scalars(select(Message).where(Message.enrolment_id == enrolment.id)).one()
    assert (message.side, message.body) == ("staff", "Bra jobbat!")
    assert db.session.get(Enrolment, enrolment.id).answers_read_at is not None
    page = client.get(f"{base}/answers").get_data(as_text=True)
    assert "Mitt svar" in page and ">New<" not in page

    # Without the tick, feedback is only a message; with it again, the third module opens, no more.
    auth.post(f"{base}/feedback", {"body": "En fråga till", "send": "1"}, f"{base}/answers")
    assert _open_modules(db, enrolment) == ["pain-physiology", "treatment"]
    auth.post(f"{base}/feedback", {"body": "Nu nästa", "open_next": "y", "send": "1"}, f"{base}/answers")
    assert _open_modules(db, enrolment) == ["pain-physiology", "treatment", "flare-up-plan"]


def test_feedback_skips_modules_left_out_and_keeps_an_empty_text(client, auth, clinician, make, unit, db):
    enrolment = _after_feedback_enrolment(make, unit, clinician, db)
    base = f"/clinician/enrolments/{enrolment.id}"
    journey_entry = journey.ScheduleEntry(enrolment_id=enrolment.id, module_id="treatment", is_skipped=True)
    db.session.add(journey_entry)
    db.session.commit()
    empty = auth.post(f"{base}/feedback", {"body": "  ", "open_next": "y", "send": "1"}, f"{base}/answers")
    assert empty.status_code == 400 and "Write your feedback" in empty.get_data(as_text=True)
    assert _open_modules(db, enrolment) == ["pain-physiology"]
    auth.post(f"{base}/feedback", {"body": "Fint", "open_next": "y", "send": "1"}, f"{base}/answers")
    assert _open_modules(db, enrolment) == ["pain-physiology", "flare-up-plan"]


def test_programme_opening_is_read_from_programme_yaml(app):
    programmes = get_catalogue().programmes
    assert programmes["pain-school"].opening == "by-date"  # weekly pace, no 'opening'
    assert all(p.opening in ("by-date", "at-once", "after-feedback") for p in programmes.values())


def test_the_inbox_counts_patients_waiting_for_feedback(client, auth, clinician, make, unit, db):
    enrolment = make.enrolment(make.user("patient", name="Vera Väntar"), unit, clinician)
    make.enrolment(make.user("patient", name="Ola Ingetnytt"), unit, clinician)
    inbox = client.get("/clinician/inbox").get_data(as_text=True)
    assert "Vera Väntar" not in inbox
    _answer(db, enrolment, 0, "Ett svar")
    inbox = client.get("/clinician/inbox").get_data(as_text=True)
    waiting = inbox[inbox.index('id="feedback"'):]
    assert "Vera Väntar" in waiting and "Ola Ingetnytt" not in waiting
    assert re.search(r'id="feedback">[^<]*<span class="count">1</span>', inbox)
    base = f"/clinician/enrolments/{enrolment.id}"
    auth.post(f"{base}/feedback", {"body": "Tack!", "send": "1"}, f"{base}/answers")
    assert "Vera Väntar" not in client.get("/clinician/inbox").get_data(as_text=True)


# --- templates ---------------------------------------------------------------------------


def test_placeholders_are_filled_by_name_only_and_escaped_when_shown():
    values = {"first_name": "<b>Kim</b>", "module": "M", "clinician": "Elsa", "care_unit": "VC"}
    text = fill_placeholders("Hej {förnamn}, {modul} – {behandlare}, {vårdenhet}. {0.__class__} {okänd}", values)
    assert text == "Hej <b>Kim</b>, M – Elsa, VC. {0.__class__} {okänd}"
    assert fill_placeholders("{first_name} {fornamn} {  module }", values) == "<b>Kim</b> <b>Kim</b> M"
    html = str(preview_html("Hej {förnamn}", values))
    assert "&lt;b&gt;Kim&lt;/b&gt;" in html and "<b>" not in html


def test_a_template_is_inserted_in_the_patients_language_and_escapes_what_it_inserts(
        app, client, auth, clinician, make, unit, db):
    patient = make.user("patient", name="<b>Kim</b> Exempelsson", locale="en")
    enrolment = make.enrolment(patient, unit, clinician)
    thread = f"/clinician/enrolments/{enrolment.id}/messages"
    page = auth.post(thread, {"template": "b-welcome", "body": "", "insert": "1"}, thread)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # English for an English-speaking patient, with their name escaped and the module in English.
    assert "Hello &lt;b&gt;Kim&lt;/b&gt;," in html and "<b>Kim</b>" not in html
    assert "Introduction and pain physiology" in html and "Vårdcentralen Ekbacken" in html
    assert "Elsa Exempel" in html[html.index("<textarea"):]
    assert not db.session.scalars(select(Message)).all()  # inserting sends nothing
    text = re.search(r"<textarea[^>]*>\n?(.*?)</textarea>", html, re.S).group(1)
    auth.post(thread, {"body": text.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"'),
                       "send": "1"}, thread)
    message = db.session.scalars(select(Message)).one()
    assert message.body.startswith("Hello <b>Kim</b>,")
    patient_client = app.test_client()
    Auth(patient_client, db).login(patient)
    seen = patient_client.get(f"/e/{enrolment.id}/messages").get_data(as_text=True)
    assert "Hello &lt;b&gt;Kim&lt;/b&gt;," in seen and "<b>Kim</b>" not in seen


def test_unit_and_personal_templates_and_who_may_use_them(app, client, auth, clinician, make, unit, db):
    patient = make.user("patient", name="Kim Exempelsson")
    enrolment = make.enrolment(patient, unit, clinician)
    page = "/clinician/message-templates"
    assert "{förnamn}" in client.get(page).get_data(as_text=True)  # the placeholders are documented
    created = auth.post(page, {"name": "Kort tack", "kind": "feedback", "locale": "sv", "unit": str(unit.id),
                               "body": "Tack {förnamn}! /{behandlare}"}, page)
    assert created.status_code == 302
    mine = auth.post(page, {"name": "Min egen", "kind": "other", "locale": "sv", "unit": str(unit.id),
                            "personal": "y", "body": "Egen text"}, page)
    assert mine.status_code == 302
    shared, personal = db.session.scalars(select(MessageTemplate).order_by(MessageTemplate.id)).all()
    assert (shared.owner_id, personal.owner_id) == (None, clinician.id)
    answers = f"/clinician/enrolments/{enrolment.id}/answers"
    filled = auth.post(f"/clinician/enrolments/{enrolment.id}/feedback",
                       {"template": f"t-{shared.id}", "body": "Först", "insert": "1"}, answers)
    assert "Först\n\nTack Kim! /Elsa Exempel" in filled.get_data(as_text=True)

    # A colleague sees the unit's template but not the personal one; another unit sees neither.
    colleague = make.user("clinician", units=[unit])
    other = app.test_client()
    Auth(other, db).login(colleague)
    assert other.get(f"{page}/{shared.id}").status_code == 200
    assert other.get(f"{page}/{personal.id}").status_code == 404
    refused = Auth(other, db).post(f"/clinician/enrolments/{enrolment.id}/feedback",
                                   {"template": f"t-{personal.id}", "body": "", "insert": "1"}, answers)
    assert refused.status_code == 400 and "Egen text" not in refused.get_data(as_text=True)
    outsider = app.test_client()
    Auth(outsider, db).login(make.user("clinician", units=[make.unit()]))
    assert outsider.get(f"{page}/{shared.id}").status_code == 404
    assert Auth(outsider, db).post(f"{page}/{shared.id}/delete", {}, page).status_code == 404

    changed = auth.post(f"{page}/{shared.id}", {"name": "Kort tack", "kind": "feedback", "locale": "en",
                                                "unit": str(unit.id), "body": "Thanks {förnamn}!"}, page)
    assert changed.status_code == 302
    db.session.refresh(shared)
    assert (shared.locale, shared.body) == ("en", "Thanks {förnamn}!")
    too_long = auth.post(page, {"name": "Lång", "kind": "other", "locale": "sv", "unit": str(unit.id),
                                "body": "x" * 5001}, page)
    assert too_long.status_code == 400 and "x" * 100 in too_long.get_data(as_text=True)  # the text is kept
    shared_id = shared.id
    assert auth.post(f"{page}/{shared_id}/delete", {}, page).status_code == 302
    db.session.expire_all()
    assert db.session.get(MessageTemplate, shared_id) is None


def test_the_demo_seed_gives_each_unit_the_shipped_templates(app, runner, db):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    rows = db.session.scalars(select(MessageTemplate)).all()
    kinds = {(t.kind, t.locale) for t in rows}
    for kind in ("welcome", "feedback", "reminder", "closing"):
        for locale in ("sv", "en", "ar", "fa"):
            assert (kind, locale) in kinds
    assert all(t.owner_id is None for t in rows)


# --- outcomes ----------------------------------------------------------------------------


def _submission(db, enrolment, form_id, total, band, at, purpose="manual"):
    dispatch = Dispatch(enrolment_id=enrolment.id, form_id=form_id, purpose=purpose, send_at=at, created_at=at,
                        answered_at=at)
    db.session.add(dispatch)
    db.session.flush()
    db.session.add(Submission(dispatch_id=dispatch.id, enrolment_id=enrolment.id, form_id=form_id, total=total,
                              band=band, answers=json.dumps({}), submitted_at=at))


def test_outcomes_show_timepoints_bands_and_the_published_reliable_change_rule(client, clinician, make, unit, db):
    start = utcnow() - timedelta(weeks=12)
    enrolment = make.enrolment(make.user("patient"), unit, clinician, started_at=start)
    _submission(db, enrolment, "phq-9", 16, "Moderately severe", start, "before")
    _submission(db, enrolment, "phq-9", 12, "Moderate", start + timedelta(weeks=4, days=2))
    _submission(db, enrolment, "phq-9", 9, "Mild", start + timedelta(weeks=8), "after")
    _submission(db, enrolment, "peg", 6, None, start + timedelta(weeks=9), "day-60")
    db.session.commit()
    html = client.get(f"/clinician/enrolments/{enrolment.id}/outcomes").get_data(as_text=True)
    phq = html[html.index('id="form-phq-9"'):html.index('id="form-peg"')]
    rows = re.findall(r'<th scope="row">([^<]+)</th>', phq)
    assert rows == ["Before", "Week 5", "After"]
    assert "Moderately severe" in phq and "Moderate" in phq and "Mild" in phq
    assert "6 points or more" in phq and "NHS Talking Therapies" in phq  # the rule and its source
    assert "-7 (" in phq and "-4" in phq  # 16 → 9 is reliable, 16 → 12 is not
    peg = html[html.index('id="form-peg"'):]
    assert "Follow-up" in peg and "NHS" not in peg  # no published rule for the PEG
    # The chart names every band in full and widens to fit them.
    svg = phq[phq.index("<svg"):phq.index("</svg>")]
    assert all(f">{band}</text>" in svg for band in ("Minimal", "Mild", "Moderate", "Moderately severe", "Severe"))


def test_reliable_change_rules_are_in_the_questionnaire_definitions(app):
    forms = get_catalogue().forms
    assert forms["phq-9"].reliable_change.points == 6 and forms["gad-7"].reliable_change.points == 4
    assert "NHS Talking Therapies" in forms["phq-9"].reliable_change.source
    assert forms["peg"].reliable_change is None
