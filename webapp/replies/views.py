"""The patient's copy of the reply to the referring unit."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.programme.enrolments import load_enrolment_for_patient
from webapp.replies import services

bp = Blueprint("replies", __name__, template_folder="templates")


@bp.route("/e/<int:enrolment_id>/reply")
@role_required("patient")
def patient_reply(enrolment_id: int):
    """The newest reply the care team wrote to the unit that referred the patient, to read and print."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user, allow_closed=True)
    reply = services.latest_for([enrolment.id]).get(enrolment.id)
    if reply is None:
        abort(404)
    return render_template("replies/patient_reply.html", enrolment=enrolment, reply=reply,
                           programme=get_catalogue().programmes.get(enrolment.programme_id),
                           content=services.content_of(reply))
