"""Register timepoints: declared in programme.yaml, checked, sent by the scheduler, exported one row per
patient and timepoint with licensed instruments as empty columns."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import Auth
from tests.replies.data import answer, two_patients
from webapp.content.parser import Problem
from webapp.content.register import parse_register
from webapp.content.services import get_catalogue
from webapp.core.audit import AccessLogEntry
from webapp.core.db import utcnow
from webapp.interop.register import FIXED, columns
from webapp.questionnaires.jobs import send_register_timepoints
from webapp.questionnaires.models import Dispatch


def test_register_entries_are_checked_with_their_line():
    text = ("id: x\nregister:\n  - {id: before, at: start, forms: [peg]}\n  - {id: BAD, at: start, forms: [peg]}\n"
            "  - {id: after, at: later, forms: [peg]}\n  - {id: 12m, at: 365, forms: [nope]}\n"
            "  - {id: before, at: end, forms: [peg]}\n  - {id: none, at: end, forms: []}\n")
    import yaml
    problems: list[Problem] = []
    timepoints = parse_register(yaml.safe_load(text)["register"], text, "p.yaml", {"peg"}, problems)
    assert [(t.id, t.at, t.forms) for t in timepoints] == [("before", "start", ("peg",))]
    assert [p.line for p in problems] == [4, 5, 6, 7, 8]
    assert "'nope'" in problems[2].message and "twice" in problems[3].message
    problems = []
    assert parse_register("yes", "register: yes\n", "p.yaml", {"peg"}, problems) == [] and problems[0].line == 1


@pytest.fixture
def s(app, make, db):
    data = two_patients(make, db)
    data["sc"] = app.test_client()
    Auth(data["sc"], db).login(data["clinician"])
    return data


def _csv(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_export_one_row_per_patient_and_timepoint_with_licensed_skeleton(s, db):
    programme = get_catalogue().programmes["pain-school"]
    forms = get_catalogue().forms
    response = s["sc"].get(f"/clinician/exports/register.csv?unit={s['unit'].id}&programme=pain-school")
    rows = _csv(response)
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header == columns(programme, forms) and header[:len(FIXED)] == FIXED
    assert [(r["personal_number"], r["timepoint"]) for r in rows] == [
        (p.personal_number, t.id) for p in (s["patient"], s["other"]) for t in programme.register]
    kim = {r["timepoint"]: r for r in rows if r["personal_number"] == s["patient"].personal_number}
    # The "before" and "after" measures count for the register's timepoints.
    assert kim["before"]["peg:status"] == "answered" and kim["before"]["peg:total"] == f"{s['before']:g}"
    assert kim["before"]["peg:p"] == "8" and kim["after"]["peg:total"] == f"{s['after']:g}"
    assert kim["12m"]["peg:status"] == "not_sent" and kim["12m"]["peg:total"] == ""
    # Licensed instruments: every column there, every one empty but the status.
    licensed = [f for f in ("hads", "eq-vas") if not forms[f].has_text]
    assert licensed
    for row in rows:
        for form_id in licensed:
            cells = {k: v for k, v in row.items() if k.startswith(f"{form_id}:")}
            assert cells.pop(f"{form_id}:status") == "licensed" and set(cells.values()) == {""} and cells
    entry = db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "register.export")).one()
    assert f",{s['patient'].id}," in entry.patient_ids and f",{s['other'].id}," in entry.patient_ids


def test_export_needs_a_unit_of_the_clinician_and_a_register_programme(s, db, make, app):
    assert s["sc"].get(f"/clinician/exports/register.csv?unit={s['unit'].id}&programme=nope").status_code == 404
    outsider = make.user("clinician", units=[make.unit()])
    client = app.test_client()
    Auth(client, db).login(outsider)
    assert client.get(f"/clinician/exports/register.csv?unit={s['unit'].id}&programme=pain-school").status_code == 404
    page = s["sc"].get("/clinician/exports").get_data(as_text=True)
    assert "Lotsa skickar inte in något" in page


def test_the_scheduler_sends_a_day_timepoint_once(s, db):
    enrolment = s["e"]
    enrolment.started_at = utcnow() - timedelta(days=366)
    db.session.commit()
    sent = send_register_timepoints()
    db.session.commit()
    purposes = db.session.scalars(select(Dispatch.form_id).where(Dispatch.enrolment_id == enrolment.id,
                                                                  Dispatch.purpose == "reg-12m")).all()
    # The free instruments go out; the licensed ones (no texts) never do.
    assert sent == 2 and sorted(purposes) == ["managing-pain", "peg"]
    assert send_register_timepoints() == 0
    answer(enrolment, "peg", {"p": 2, "e": 2, "g": 2}, "reg-12m", 0)
    db.session.commit()
    rows = _csv(s["sc"].get(f"/clinician/exports/register.csv?unit={s['unit'].id}&programme=pain-school"))
    twelve = next(r for r in rows if r["personal_number"] == s["patient"].personal_number and r["timepoint"] == "12m")
    assert twelve["peg:status"] == "answered" and twelve["managing-pain:status"] == "waiting"
