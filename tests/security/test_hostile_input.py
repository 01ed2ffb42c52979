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
    from webapp.questionnaires.services import send

    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    patient = make.user("patient")
    enrolment = make.enrolment(patient, unit, clinician)
    catalogue = get_catalogue()
    dispatch = send(enrolment, catalogue.forms["gad-7"], clinician)
    contact = schedule_contact(enrolment, clinician, "phone", utcnow() + timedelta(days=1), "")
    db.session.commit()
    module = catalogue.programmes["pain-school"].published_modules[0]
    block = next(b for kind, b, _items in module.answer_ids() if kind == "reflection")
    clients = {}
    for role, user in (("patient", patient), ("clinician", clinician)):
        clients[role] = app.test_client()
        Auth(clients[role], db).login(user)
    clients["anon"] = app.test_client()
    e = enrolment.id
    targets = [
        # (role, url, fixed fields, fields to fuzz, a field whose value must survive a refused form)
        ("patient", f"/e/{e}/messages", {}, ["body"], None),
        ("patient", f"/e/{e}/answers/{block}", {"page": "2"}, ["text", "page", "base_version"], None),
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
        ("anon", "/auth/login", {"password": "x"}, ["email"], None),
        ("anon", "/auth/reset", {}, ["email"], None),
    ]
    return {"clients": clients, "targets": targets, "enrolment": e}


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
