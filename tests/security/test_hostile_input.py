"""More than 200 hostile and malformed inputs sent through every form and JSON
endpoint: never a server error, never markup echoed raw, a clear answer, and the
rest of what the user typed kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.plugin import Auth, csrf_token_from
from tests.security.hostile import CORPUS, MARKUP

# An element-shaped payload found unescaped in a page would be markup; a Markdown
# link shown as text in a form field is harmless.
RAW_MARKUP = [p for p in CORPUS if "xss" in p and "<" in p]


@pytest.fixture
def world(app, make, db):
    from webapp.careplan.services import schedule_contact
    from webapp.content.services import get_catalogue
    from webapp.core.db import utcnow
    from webapp.programme.models import ScheduleEntry
    from webapp.questionnaires.services import send

    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    colleague = make.user("clinician", units=[unit])
    patient = make.user("patient")
    enrolment = make.enrolment(patient, unit, clinician)
    catalogue = get_catalogue()
    dispatch = send(enrolment, catalogue.forms["gad-7"], clinician)
    contact = schedule_contact(enrolment, clinician, "phone", utcnow() + timedelta(days=1), "")
    diary_module = next(m for m in catalogue.programmes["pain-school"].published_modules if m.diary_ids())
    db.session.add(ScheduleEntry(enrolment_id=enrolment.id, module_id=diary_module.id, opens_at=utcnow()))
    # Self-referral: the patient is answering a screening; another resident's request waits for an answer.
    from webapp.referrals import services as referrals
    from webapp.referrals.models import ReferralOffer

    offer = ReferralOffer(care_unit_id=unit.id, programme_id="act-long-term-pain", screening_forms="phq-9", is_open=True)
    db.session.add(offer)
    db.session.flush()
    screening = referrals.start(offer, patient)
    screening_id = referrals.screening_dispatches(screening)[0].id
    waiting = referrals.start(offer, make.user("patient"))
    referrals.screening_dispatches(waiting)[0].answered_at = utcnow()
    referrals.send(waiting)
    db.session.commit()
    diary = diary_module.diary_ids()[0]
    module = catalogue.programmes["pain-school"].published_modules[0]
    block = next(b for kind, b, _items in module.answer_ids() if kind == "reflection")
    clients = {}
    for role, user in (("patient", patient), ("clinician", clinician), ("admin", make.user("admin")),
                       ("editor", make.user("editor"))):
        clients[role] = app.test_client()
        Auth(clients[role], db).login(user)
    clients["anon"] = app.test_client()
    e = enrolment.id
    targets = [
        # (role, url, fixed fields, fields to fuzz, a field whose value must survive a refused form)
        ("patient", f"/e/{e}/messages", {}, ["body"], None),
        ("patient", f"/e/{e}/answers/{block}", {"page": "2"}, ["text", "page", "base_version"], None),
        # A diary: what was typed in the other fields comes back when one is refused.
        ("patient", f"/e/{e}/diary/{diary}/entries", {"v-activity": "30", "v-sleep": "7,5"},
         ["day", "v-pain", "v-activity", "page", "back"], "7,5"),
        ("patient", f"/e/{e}/questionnaires/{dispatch.id}", {"action": "save", "q1": "1"}, ["q2", "q3"], None),
        ("patient", "/account/phone/code", {}, ["phone"], None),
        ("clinician", f"/clinician/enrolments/{e}/welcome", {}, ["welcome_text"], None),
        ("clinician", f"/clinician/enrolments/{e}/messages", {}, ["body"], None),
        ("clinician", f"/clinician/enrolments/{e}/plan", {"action": "share", "goal_able_0": "Behåll mig"},
         ["goal_matters_0", "act_what_0", "act_who_0", "review_on"], "Behåll mig"),
        ("clinician", f"/clinician/enrolments/{e}/contacts", {"kind": "phone", "day": "2030-01-01", "time": "09:00"},
         ["kind", "day", "time", "purpose"], None),
        ("clinician", f"/clinician/contacts/{contact.id}/outcome", {"outcome": "kept"}, ["note", "rating", "outcome"], None),
        ("clinician", f"/clinician/enrolments/{e}/close", {}, ["reason"], None),
        ("clinician", f"/clinician/enrolments/{e}/reply", {"plan": "Planen som ska finnas kvar"},
         ["recommendations", "recipient", "done", "questionnaires"], "Planen som ska finnas kvar"),
        ("clinician", f"/clinician/enrolments/{e}/information", {}, ["information"], None),
        ("clinician", f"/clinician/enrolments/{e}/extend", {}, ["days"], None),
        ("clinician", f"/clinician/enrolments/{e}/end-date", {}, ["ends_on"], None),
        ("clinician", f"/clinician/enrolments/{e}/schedule",
         {"opening": "", "rows-0-module_id": module.id, "rows-0-planned": "yes"},
         ["rows-0-opens_on", "rows-0-module_id", "rows-0-planned", "opening", "rows-0-open_now"], None),
        ("clinician", f"/clinician/enrolments/{e}/feedback", {"send": "1"}, ["body", "template"], None),
        ("clinician", f"/clinician/enrolments/{e}/feedback", {"insert": "1", "body": "Mitt utkast som ska finnas kvar"},
         ["template"], "Mitt utkast som ska finnas kvar"),
        ("clinician", f"/clinician/enrolments/{e}/messages", {"insert": "1", "body": "Utkast i meddelandet"},
         ["template"], "Utkast i meddelandet"),
        ("clinician", "/clinician/message-templates", {"name": "Mall som ska finnas kvar", "kind": "other",
                                                       "locale": "sv"},
         ["body", "kind", "locale", "unit"], "Mall som ska finnas kvar"),
        ("clinician", f"/clinician/enrolments/{e}/questionnaires", {"form_id": "phq-9"}, ["send_on", "due_on", "form_id"], None),
        ("clinician", "/clinician/questionnaires", {"to": "chosen", "form_id": "phq-9", "send_on": "2030-01-01"},
         ["due_on", "unit_id", "enrolment_id"], "2030-01-01"),
        ("clinician", "/clinician/groups", {"name": "Grupp som ska finnas kvar", "programme_id": "pain-school",
                                            "first_day": "2030-01-01", "time": "13:00", "per_week": "1", "weeks": "2"},
         ["weeks", "time", "first_day"], "Grupp som ska finnas kvar"),
        ("clinician", "/clinician/open", {"step": "1", "programme": "pain-school"}, ["personal_number"], None),
        ("patient", f"/referral/r/{screening.id}/form/{screening_id}", {"action": "save", "q1": "1"}, ["q2", "q9"], None),
        ("clinician", f"/clinician/triage/{waiting.id}", {"action": "visit"}, ["message", "welcome_text", "action"], None),
        ("clinician", "/clinician/self-referral", {"programme_id": "pain-school", "forms": "phq-9"},
         ["unit_id", "programme_id", "forms"], None),
        ("clinician", "/clinician/self-referral/codes", {"offer_id": str(offer.id), "label": "Grupp som ska finnas kvar"},
         ["count", "offer_id"], "Grupp som ska finnas kvar"),
        ("anon", "/register", {"full_name": "Namn som ska finnas kvar", "email": "ny@example.se",
                               "personal_number": "198112189876"}, ["code", "personal_number"], "Namn som ska finnas kvar"),
        ("admin", "/admin/units/new", {"name": "Enhet som ska finnas kvar"}, ["code"], "Enhet som ska finnas kvar"),
        ("admin", f"/admin/units/{unit.id}", {}, ["name"], None),
        ("admin", "/admin/staff/new", {"full_name": "Person som ska finnas kvar", "role": "clinician", "locale": "sv"},
         ["email", "role", "locale", "units"], "Person som ska finnas kvar"),
        ("admin", f"/admin/staff/{colleague.id}/hsa-id", {}, ["hsa_id"], None),
        ("admin", f"/admin/staff/{colleague.id}/units", {}, ["unit"], None),
        ("admin", f"/admin/staff/{colleague.id}/role", {}, ["role"], None),
        ("editor", "/content/questionnaires/phq-9/sv", {"q1": "1"}, ["q2", "q9", "q1"], None),
        ("editor", "/content/questionnaires/eq-vas/sv", {}, ["vas"], None),
        ("anon", "/auth/login", {"password": "x"}, ["email"], None),
        ("anon", "/auth/reset", {}, ["email"], None),
    ]
    return {"clients": clients, "targets": targets, "enrolment": e, "diary": diary}


def _assert_safe(response, payload, where):
    body = response.get_data(as_text=True)
    assert response.status_code < 500, f"{where}: {response.status_code} for {payload!r}"
    if payload in RAW_MARKUP:
        assert payload not in body, f"{where}: {payload!r} echoed raw"
    # Template syntax is text, never evaluated.
    assert "49xss" not in body, f"{where}: {payload!r} was evaluated"


def test_hostile_inputs_through_every_form(world, db):
    tokens = {}
    for role, client in world["clients"].items():
        tokens[role] = csrf_token_from(client.get("/accessibility").get_data(as_text=True))
    sent = 0
    for role, url, fixed, fields, survivor in world["targets"]:
        client = world["clients"][role]
        # Every payload reaches the form, taking turns over its fields; markup goes into every field.
        cases = [(fields[i % len(fields)], p) for i, p in enumerate(CORPUS)]
        cases += [(f, p) for f in fields[1:] for p in MARKUP]
        for field, payload in cases:
            data = {"csrf_token": tokens[role], **fixed, field: payload}
            response = client.post(url, data=data, headers={"Accept": "application/json"}
                                   if "/answers/" in url else {})
            _assert_safe(response, payload, f"{url} {field}")
            if survivor and response.status_code == 400:
                assert survivor in response.get_data(as_text=True), f"{url}: {survivor!r} lost"
            response.close()
            sent += 1
    assert sent >= len(CORPUS) * len(world["targets"])

    # Everything that was accepted is shown as text where it is read back.
    e = world["enrolment"]
    for role, url in (("patient", f"/e/{e}/messages"), ("patient", "/home"), ("patient", f"/e/{e}/summary"),
                      ("patient", f"/e/{e}/diary/{world['diary']}"),
                      ("clinician", f"/clinician/enrolments/{e}"), ("clinician", f"/clinician/enrolments/{e}/messages"),
                      ("clinician", "/clinician/groups"), ("clinician", "/clinician/follow-ups"),
                      ("clinician", f"/clinician/enrolments/{e}/reply/1"), ("patient", f"/e/{e}/reply")):
        body = world["clients"][role].get(url).get_data(as_text=True)
        for payload in MARKUP:
            if "xss" in payload and "<" in payload:
                assert payload not in body, f"{url} shows {payload!r} raw"


def test_hostile_search_and_invalid_utf8(world, db):
    client = world["clients"]["clinician"]
    for payload in CORPUS:
        for url, query in (("/clinician/", {"q": payload, "page": payload, "sort": payload}),
                           ("/clinician/questionnaires/export.csv", {"start": payload, "end": payload})):
            response = client.get(url, query_string=query)
            _assert_safe(response, payload, url)
            response.close()
    # Bytes that are not UTF-8 are replaced, not a crash.
    token = csrf_token_from(client.get("/accessibility").get_data(as_text=True))
    response = client.post(f"/clinician/enrolments/{world['enrolment']}/welcome",
                           data=f"csrf_token={token}&welcome_text=%FF%FE%C3%28".encode(),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code < 500
