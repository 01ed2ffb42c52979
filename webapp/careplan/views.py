"""Care plans and follow-up contacts: written by the clinician, agreed by the patient."""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from webapp.auth.services import unit_ids_subquery
from webapp.careplan import services
from webapp.careplan.models import FollowUpContact
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.dates import at_local, parse_day
from webapp.extensions import db
from webapp.programme.enrolments import load_enrolment_for_clinician, load_enrolment_for_patient

bp = Blueprint("careplan", __name__, template_folder="templates")


RESPONSIBLE_LABELS = {
    "patient": _l("The patient"), "physiotherapist": _l("Physiotherapist"), "psychologist": _l("Psychologist"),
    "occupational_therapist": _l("Occupational therapist"), "doctor": _l("Doctor"), "nurse": _l("Nurse"),
    "care_manager": _l("Care manager"), "other": _l("Someone else in the team"),
}
CONTACT_LABELS = {"phone": _l("Phone call"), "video": _l("Video call"), "visit": _l("Visit")}
PROBLEM_TEXT = {
    "too_long": _l("The text is too long."),
    "who": _l("Choose who is responsible."),
    "date": _l("Write the date as yyyy-mm-dd."),
    "goal_needed": _l("Write at least one goal before sharing the plan."),
}


@bp.app_context_processor
def _labels():
    return {"responsible_labels": RESPONSIBLE_LABELS, "contact_labels": CONTACT_LABELS}


def _rows(content: dict) -> dict:
    """The plan as form values, padded with empty rows."""
    values = {"review_on": content.get("review_on", "")}
    for n, goal in enumerate(content.get("goals", [])[:services.GOAL_ROWS]):
        values[f"goal_matters_{n}"], values[f"goal_able_{n}"] = goal["matters"], goal["able_to"]
    for n, act in enumerate(content.get("activities", [])[:services.ACTIVITY_ROWS]):
        values[f"act_what_{n}"], values[f"act_who_{n}"], values[f"act_when_{n}"] = act["what"], act["who"], act["when"]
    return values


@bp.route("/clinician/enrolments/<int:enrolment_id>/plan", methods=["GET", "POST"])
@role_required("clinician")
def edit(enrolment_id: int):
    """Write the plan with the patient: save a draft any time, share it when it is ready."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    plan = services.get_plan(enrolment)
    problems: dict[str, str] = {}
    if request.method == "POST":
        if enrolment.status == "closed":
            abort(409)
        content, problems = services.plan_from_form(request.form)
        if not problems and request.form.get("action") == "share":
            try:
                services.share(enrolment, content, current_user)
            except services.PlanProblems as exc:
                problems = exc.problems
            else:
                db.session.commit()
                flash(_("The plan is shared with the patient, who can now read and agree to it."), "success")
                return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id) + "#plan")
        # A draft, or a plan with problems: keep everything that was written.
        plan = services.save_draft(enrolment, content)
        db.session.commit()
        if not problems:
            flash(_("The draft is saved. The patient does not see it until you share it."), "success")
            return redirect(url_for("careplan.edit", enrolment_id=enrolment.id))
        values = dict(request.form)
    else:
        log_access(current_user, "plan.view", patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
        source = json.loads(plan.draft) if plan and plan.draft else services.content_of(plan.current if plan else None)
        values = _rows(source)
    html = render_template("careplan/edit.html", enrolment=enrolment, plan=plan, values=values,
                           problems={k: str(PROBLEM_TEXT[v]) for k, v in problems.items()},
                           goal_rows=services.GOAL_ROWS, activity_rows=services.ACTIVITY_ROWS,
                           responsible=services.RESPONSIBLE)
    db.session.commit()
    return html, 400 if problems else 200


@bp.route("/e/<int:enrolment_id>/plan")
@role_required("patient")
def patient_plan(enrolment_id: int):
    """The patient's plan: goals, activities, what changed, and "I agree to this plan"."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user, allow_closed=True)
    plan = services.get_plan(enrolment)
    if plan is None or plan.current is None:
        abort(404)
    return render_template("careplan/patient_plan.html", enrolment=enrolment, plan=plan,
                           content=services.content_of(plan.current), changes=services.changes(plan))


@bp.route("/e/<int:enrolment_id>/plan/agree", methods=["POST"])
@role_required("patient")
def agree(enrolment_id: int):
    """Record that the patient agrees to the version they read (not a newer one they have not seen)."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user)
    plan = services.get_plan(enrolment)
    if plan is None or plan.current is None:
        abort(404)
    if request.form.get("version") != str(plan.current.number):
        flash(_("The plan has changed since you opened it. Please read it again."), "error")
    else:
        services.agree(enrolment, plan.current, current_user)
        db.session.commit()
        flash(_("Thank you. Your agreement to the plan is saved."), "success")
    return redirect(url_for("careplan.patient_plan", enrolment_id=enrolment.id))


def _local_datetime(day: str, clock: str) -> datetime:
    """A Stockholm wall-clock date and time from a form, in UTC; ValueError if malformed."""
    return at_local(parse_day(day), datetime.strptime(clock or "09:00", "%H:%M").time())


@bp.route("/clinician/enrolments/<int:enrolment_id>/contacts", methods=["POST"])
@role_required("clinician")
def schedule(enrolment_id: int):
    """Plan a follow-up contact (phone, video or visit) with a date, time and purpose."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    back = url_for("clinician.enrolment", enrolment_id=enrolment.id) + "#contacts"
    kind = request.form.get("kind", "")
    purpose = request.form.get("purpose", "").strip()
    try:
        due_at = _local_datetime(request.form.get("day", ""), request.form.get("time", ""))
    except ValueError:
        flash(_("Choose a date (and a time) for the contact."), "error")
        return redirect(back)
    if kind not in services.CONTACT_KINDS or enrolment.status == "closed" or len(purpose) > services.MAX_TEXT:
        flash(_("Choose how the contact is made, and keep the purpose short."), "error")
        return redirect(back)
    services.schedule_contact(enrolment, current_user, kind, due_at, purpose)
    db.session.commit()
    flash(_("The follow-up contact is planned."), "success")
    return redirect(back)


@bp.route("/clinician/contacts/<int:contact_id>/outcome", methods=["POST"])
@role_required("clinician")
def outcome(contact_id: int):
    """Record how a contact went: kept or missed, a short note and optionally a new rating."""
    contact = db.session.get(FollowUpContact, contact_id)
    if contact is None:
        abort(404)
    enrolment = load_enrolment_for_clinician(contact.enrolment_id, current_user)
    back = (url_for("careplan.worklist") if request.form.get("back") == "worklist"
            else url_for("clinician.enrolment", enrolment_id=enrolment.id) + "#contacts")
    result = request.form.get("outcome")
    note = request.form.get("note", "").strip()
    rating_text = request.form.get("rating", "").strip()
    rating = int(rating_text) if rating_text.isdigit() and 0 <= int(rating_text) <= 10 else None
    if result not in ("kept", "missed") or len(note) > 2000 or (rating_text and rating is None):
        flash(_("Say whether the contact took place, keep the note under 2,000 characters and give the rating "
                "as a whole number from 0 to 10."), "error")
        return redirect(back)
    services.record_outcome(contact, enrolment, current_user, result, note, rating)
    db.session.commit()
    flash(_("The outcome is recorded."), "success")
    return redirect(back)


@bp.route("/clinician/follow-ups")
@role_required("clinician")
def worklist():
    """Today's and overdue follow-up contacts, and those missed in the last 30 days."""
    mine_only = request.args.get("all") != "1"
    due, missed = services.worklist(unit_ids_subquery(current_user), current_user, mine_only=mine_only)
    log_access(current_user, "follow_ups.view", detail=f"{len(due)} due, {len(missed)} missed")
    html = render_template("careplan/worklist.html", due=due, missed=missed, mine_only=mine_only)
    db.session.commit()
    return html
