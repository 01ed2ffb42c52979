"""Two patients of one unit with scores, a plan and a contact: what a reply is written from."""

from __future__ import annotations

import json
from datetime import timedelta

from webapp.careplan.models import CarePlan, CarePlanVersion, FollowUpContact
from webapp.content.services import get_catalogue
from webapp.core.db import utcnow
from webapp.questionnaires.services import send, submit


def answer(enrolment, form_id: str, answers: dict, purpose: str, days_ago: int):
    form = get_catalogue().forms[form_id]
    dispatch = send(enrolment, form, None, purpose=purpose)
    response, _result = submit(dispatch, enrolment, form, answers)
    response.submitted_at = dispatch.answered_at = utcnow() - timedelta(days=days_ago)
    return response


def two_patients(make, db):
    unit = make.unit(name="Smärtrehab Syd")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    kim = make.user("patient", name="Kim Exempelsson", personal_number="198001011231")
    other = make.user("patient", name="Olle Annansson", personal_number="197505059878")
    e = make.enrolment(kim, unit, clinician, started_at=utcnow() - timedelta(days=70))
    e_other = make.enrolment(other, unit, clinician, started_at=utcnow() - timedelta(days=40))
    before = answer(e, "peg", {"p": 8, "e": 7, "g": 9}, "before", 69)
    after = answer(e, "peg", {"p": 3, "e": 2, "g": 4}, "after", 2)
    answer(e_other, "peg", {"p": 1, "e": 1, "g": 1}, "before", 39)
    plan = CarePlan(enrolment_id=e.id)
    db.session.add(plan)
    db.session.flush()
    db.session.add(CarePlanVersion(plan_id=plan.id, number=1, created_by_id=clinician.id, content=json.dumps(
        {"goals": [{"matters": "Barnbarnen", "able_to": "Promenera till lekparken"}],
         "activities": [{"what": "Graderad träning", "who": "physiotherapist", "when": "tisdagar"}],
         "review_on": "2027-03-01"})))
    db.session.add(FollowUpContact(enrolment_id=e.id, kind="phone", due_at=utcnow() - timedelta(days=10),
                                   purpose="Uppföljning av träningen", outcome="kept"))
    db.session.commit()
    return {"unit": unit, "clinician": clinician, "patient": kim, "other": other, "e": e, "e_other": e_other,
            "before": before.total, "after": after.total}
