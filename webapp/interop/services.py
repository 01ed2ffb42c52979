"""What leaves Lotsa for other systems: the answers of an enrolment or of a care unit over a period.

Access is the caller's to check (the enrolment guard, or a unit the clinician
belongs to); these functions only read.
"""

from __future__ import annotations

from sqlalchemy import select

from webapp.auth.models import CareUnit, User
from webapp.auth.services import units_of
from webapp.content.services import get_catalogue
from webapp.core.db import utcnow
from webapp.extensions import db
from webapp.interop import fhir
from webapp.programme.models import Enrolment
from webapp.questionnaires.models import Submission


def unit_of(clinician, unit_id: int | None) -> CareUnit | None:
    """The care unit if the clinician belongs to it (else None: not found, for them)."""
    return next((unit for unit in units_of(clinician) if unit.id == unit_id), None)


def _rows(query) -> list[tuple[Submission, str | None, int]]:
    return [(s, pnr, patient_id) for s, pnr, patient_id in db.session.execute(
        query.join(Enrolment, Enrolment.id == Submission.enrolment_id).join(User, User.id == Enrolment.patient_id)
        .order_by(Submission.submitted_at, Submission.id))]


def enrolment_rows(enrolment) -> list:
    """The enrolment's submissions with the patient's identity number, oldest first."""
    return _rows(select(Submission, User.personal_number, User.id).where(Submission.enrolment_id == enrolment.id))


def unit_rows(unit: CareUnit, start=None, end=None) -> list:
    """The submissions of every enrolment of the unit submitted in [start, end), oldest first."""
    query = select(Submission, User.personal_number, User.id).where(Enrolment.care_unit_id == unit.id)
    if start is not None:
        query = query.where(Submission.submitted_at >= start)
    if end is not None:
        query = query.where(Submission.submitted_at < end)
    return _rows(query)


def fhir_bundle(rows: list) -> dict:
    """A FHIR R4 collection Bundle of the rows' answers and the definitions they answer."""
    forms = get_catalogue().forms
    known = [(s, pnr) for s, pnr, _patient in rows if s.form_id in forms]
    used = sorted({s.form_id for s, _pnr in known})
    return fhir.bundle([forms[form_id] for form_id in used], known, forms, utcnow())
