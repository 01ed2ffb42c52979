"""Exports for other systems: FHIR R4 bundles of questionnaire answers, and the register's timepoints."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user

from webapp.auth.services import units_of
from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.dates import day_end, day_start, parse_filter_day
from webapp.core.numbers import int_or_none
from webapp.extensions import db
from webapp.interop import register, services
from webapp.programme.enrolments import load_enrolment_for_clinician

bp = Blueprint("interop", __name__, url_prefix="/clinician", template_folder="templates")

FHIR_JSON = "application/fhir+json"


def _day(name: str):
    try:
        return parse_filter_day(request.args.get(name, ""))
    except ValueError:
        return None


def _fhir_download(bundle: dict, name: str) -> Response:
    return Response(json.dumps(bundle, ensure_ascii=False, indent=2), mimetype=FHIR_JSON,
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.route("/exports")
@role_required("clinician")
def index():
    """The exports of the clinician's care units: FHIR bundles and the register's timepoints."""
    programmes = [p for p in get_catalogue().programmes.values() if p.register]
    return render_template("interop/index.html", units=units_of(current_user), programmes=programmes,
                           forms=get_catalogue().forms)


@bp.route("/enrolments/<int:enrolment_id>/fhir.json")
@role_required("clinician")
def enrolment_fhir(enrolment_id: int):
    """The enrolment's questionnaire answers as a FHIR R4 Bundle (audit-logged)."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    rows = services.enrolment_rows(enrolment)
    bundle = services.fhir_bundle(rows)
    log_access(current_user, "fhir.export", patient_id=enrolment.patient_id, enrolment_id=enrolment.id,
               detail=f"responses={len(rows)}")
    db.session.commit()
    return _fhir_download(bundle, f"lotsa-enrolment-{enrolment.id}.fhir.json")


@bp.route("/exports/fhir.json")
@role_required("clinician")
def unit_fhir():
    """A care unit's questionnaire answers of a period as a FHIR R4 Bundle (audit-logged)."""
    unit = services.unit_of(current_user, int_or_none(request.args.get("unit")))
    if unit is None:
        abort(404)
    start, end = _day("start"), _day("end")
    rows = services.unit_rows(unit, day_start(start) if start else None, day_end(end) if end else None)
    bundle = services.fhir_bundle(rows)
    log_access(current_user, "fhir.export", detail=f"unit={unit.id} from={start or '-'} to={end or '-'} responses={len(rows)}",
               patient_ids=sorted({patient for _s, _pnr, patient in rows}))
    db.session.commit()
    return _fhir_download(bundle, f"lotsa-unit-{unit.id}.fhir.json")


@bp.route("/exports/register.csv")
@role_required("clinician")
def register_csv():
    """One row per patient and register timepoint of a unit's programme, as CSV (audit-logged).

    It prepares a submission to the pain-rehabilitation register; nothing is sent anywhere.
    """
    unit = services.unit_of(current_user, int_or_none(request.args.get("unit")))
    catalogue = get_catalogue()
    programme = catalogue.programmes.get(request.args.get("programme", ""))
    if unit is None or programme is None or not programme.register:
        abort(404)
    header, body, patient_ids = register.rows(unit, programme, catalogue.forms)
    log_access(current_user, "register.export", detail=f"unit={unit.id} programme={programme.id} rows={len(body)}",
               patient_ids=patient_ids)
    text = register.to_csv(header, body)
    db.session.commit()
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=lotsa-register-{programme.id}-{unit.id}.csv"})
