"""The FHIR export: R4 resources that a FHIR model library accepts, and that give back the same answers."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from sqlalchemy import select

from tests.fixtures.plugin import Auth
from tests.replies.data import answer, two_patients
from webapp.content.services import get_catalogue
from webapp.core.audit import AccessLogEntry
from webapp.core.identity import COORDINATION_NUMBER_OID, PERSONAL_NUMBER_OID
from webapp.interop import fhir
from webapp.questionnaires.models import Submission


@pytest.fixture
def s(app, make, db):
    data = two_patients(make, db)
    data["sc"] = app.test_client()
    Auth(data["sc"], db).login(data["clinician"])
    return data


def _parsed(response) -> tuple[dict, Bundle]:
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    raw = json.loads(response.get_data(as_text=True))
    return raw, Bundle.model_validate(raw)


def _stored(db, enrolment_ids) -> dict:
    return {f"lotsa-response-{r.id}": json.loads(r.answers) for r in db.session.scalars(
        select(Submission).where(Submission.enrolment_id.in_(enrolment_ids)))}


def test_enrolment_bundle_validates_and_round_trips(s, db):
    raw, bundle = _parsed(s["sc"].get(f"/clinician/enrolments/{s['e'].id}/fhir.json"))
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds == ["Questionnaire", "QuestionnaireResponse", "QuestionnaireResponse"]
    responses = {e["resource"]["id"]: e["resource"] for e in raw["entry"]
                 if e["resource"]["resourceType"] == "QuestionnaireResponse"}
    # The same answers come back as were stored, and only this patient's.
    assert {rid: fhir.answers_of(r) for rid, r in responses.items()} == _stored(db, [s["e"].id])
    subject = {r["subject"]["identifier"]["value"] for r in responses.values()}
    assert subject == {s["patient"].personal_number}
    assert {r["subject"]["identifier"]["system"] for r in responses.values()} == {PERSONAL_NUMBER_OID}
    assert s["other"].personal_number not in json.dumps(raw)
    entry = db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "fhir.export")).one()
    assert entry.patient_id == s["patient"].id


def test_unit_bundle_of_a_period_and_unit_access(s, db, make, app):
    raw, bundle = _parsed(s["sc"].get(f"/clinician/exports/fhir.json?unit={s['unit'].id}"))
    assert len([e for e in bundle.entry if e.resource.get_resource_type() == "QuestionnaireResponse"]) == 3
    # Only the last 30 days: Kim's "after" answer (2 days ago); the others are older.
    from datetime import timedelta

    from webapp.core.dates import local_today
    start = (local_today() - timedelta(days=30)).isoformat()
    raw, bundle = _parsed(s["sc"].get(f"/clinician/exports/fhir.json?unit={s['unit'].id}&start={start}"))
    responses = [e["resource"] for e in raw["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    assert [fhir.answers_of(r) for r in responses] == [{"p": 3, "e": 2, "g": 4}]
    entry = db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "fhir.export")
                               .order_by(AccessLogEntry.id.desc())).first()
    assert "unit" in entry.detail and f",{s['patient'].id}," in entry.patient_ids
    # Another unit's clinician gets nothing: the unit does not exist for them, nor the enrolment.
    outsider = make.user("clinician", units=[make.unit()])
    client = app.test_client()
    Auth(client, db).login(outsider)
    assert client.get(f"/clinician/exports/fhir.json?unit={s['unit'].id}").status_code == 404
    assert client.get(f"/clinician/enrolments/{s['e'].id}/fhir.json").status_code == 404
    assert client.get("/clinician/exports/fhir.json?unit=nonsense").status_code == 404


@pytest.mark.parametrize("form_id", sorted(["eq-vas", "gad-7", "hads", "managing-pain", "peg", "phq-9"]))
def test_every_questionnaire_is_a_valid_fhir_questionnaire(app, form_id):
    """Every definition in content/forms, licensed skeletons included, with its languages as translations."""
    form = get_catalogue().forms[form_id]
    resource = fhir.questionnaire(form)
    parsed = FhirQuestionnaire.model_validate(resource)
    assert [i.linkId for i in parsed.item] == [i.id for i in form.items]
    assert form.licence in ("free", "licence-required") and parsed.copyright


def test_coordination_numbers_use_their_own_oid(s, db, make):
    patient = make.user("patient", personal_number="199001721233")  # day 12 + 60
    enrolment = make.enrolment(patient, s["unit"], s["clinician"])
    response = answer(enrolment, "peg", {"p": 5, "e": 5, "g": 5}, "manual", 1)
    db.session.commit()
    resource = fhir.questionnaire_response(get_catalogue().forms["peg"], response, patient.personal_number)
    assert resource["subject"]["identifier"] == {"system": COORDINATION_NUMBER_OID, "value": "199001721233"}
