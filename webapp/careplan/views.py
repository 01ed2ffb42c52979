"""Care plans and follow-up contacts: written by the clinician, agreed by the patient.

Every form is a Flask-WTF form (``forms.py``); the views validate, call the
service and flash or re-render. Nothing typed into the plan editor is lost:
a plan with problems is kept as a draft and shown again as written.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth.services import unit_ids_subquery
from webapp.careplan import forms, services
from webapp.core import drafts
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.forms import flash_problems
from webapp.extensions import db
from webapp.programme.enrolments import load_enrolment_for_clinician, load_enrolment_for_patient

bp = Blueprint("careplan", __name__, template_folder="templates")


@bp.app_context_processor
def _labels():
    # The outcome form is drawn by a macro on pages of other features too (the enrolment page).
    return {"responsible_labels": forms.RESPONSIBLE_LABELS, "contact_labels": forms.CONTACT_LABELS,
            "outcome_form_for": _outcome_form_for}


def _outcome_form_for(contact_id: int, back: str):
    """One contact's outcome form; with the note written when the session had ended, if this page kept one.

    The page's view asks ``drafts.take()`` before rendering (so the notice shows
    on this page); this finds the same answer.
    """
    restored = drafts.take()
    if restored is not None and restored.action == url_for("careplan.outcome", contact_id=contact_id):
        return forms.OutcomeForm.for_contact(contact_id, back, formdata=restored.fields)
    return forms.OutcomeForm.for_contact(contact_id, back)


def _render_editor(enrolment, plan, form, status: int):
    """The plan editor with its form (as written, errors included) and the plan's state."""
    html = render_template("careplan/edit.html", enrolment=enrolment, plan=plan, form=form,
                           goal_rows=services.GOAL_ROWS, activity_rows=services.ACTIVITY_ROWS)
    db.session.commit()  # the access-log entry of a first view, after rendering (a commit expires the plan)
    return html, status


@bp.route("/clinician/enrolments/<int:enrolment_id>/plan", methods=["GET", "POST"])
@role_required("clinician")
def edit(enrolment_id: int):
    """Write the plan with the patient: save a draft any time, share it when it is ready."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    plan = services.get_plan(enrolment)
    if request.method == "GET":
        log_access(current_user, "plan.view", patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
        restored = drafts.take()
        form = (forms.PlanForm(formdata=restored.fields) if restored is not None
                else forms.PlanForm.from_content(services.editable_content(plan)))
        return _render_editor(enrolment, plan, form, 200)
    if enrolment.status == "closed":
        abort(409)
    form = forms.PlanForm()
    valid = form.validate_on_submit()
    content = services.plan_content(form.goal_rows(), form.activity_rows(), form.review_text())
    if valid and not form.wants_share:
        services.save_draft(enrolment, content)
        db.session.commit()
        flash(_("The draft is saved. The patient does not see it until you share it."), "success")
        return redirect(url_for("careplan.edit", enrolment_id=enrolment.id))
    if valid:
        try:
            services.share(enrolment, content, current_user)
        except services.PlanProblems as exc:
            form.add_problems(exc.problems)
        else:
            db.session.commit()
            flash(_("The plan is shared with the patient, who can now read and agree to it."), "success")
            return redirect(url_for("clinician.care", enrolment_id=enrolment.id) + "#plan")
    # A plan with problems: keep everything that was written, as a draft and on the page.
    plan = services.save_draft(enrolment, content)
    db.session.commit()
    return _render_editor(enrolment, plan, form, 400)


@bp.route("/e/<int:enrolment_id>/plan")
@role_required("patient")
def patient_plan(enrolment_id: int):
    """The patient's plan: goals, activities, what changed, and "I agree to this plan"."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user, allow_closed=True)
    plan = services.get_plan(enrolment)
    if plan is None or plan.current is None:
        abort(404)
    return render_template("careplan/patient_plan.html", enrolment=enrolment, plan=plan,
                           content=services.content_of(plan.current), changes=services.changes(plan),
                           agree_form=forms.AgreeForm(version=plan.current.number))


@bp.route("/e/<int:enrolment_id>/plan/agree", methods=["POST"])
@role_required("patient")
def agree(enrolment_id: int):
    """Record that the patient agrees to the version they read (not a newer one they have not seen)."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user)
    plan = services.get_plan(enrolment)
    if plan is None or plan.current is None:
        abort(404)
    form = forms.AgreeForm()
    if not form.validate_on_submit() or form.version.data != plan.current.number:
        flash(_("The plan has changed since you opened it. Please read it again."), "error")
    else:
        services.agree(enrolment, plan.current, current_user)
        db.session.commit()
        flash(_("Thank you. Your agreement to the plan is saved."), "success")
    return redirect(url_for("careplan.patient_plan", enrolment_id=enrolment.id))


@bp.route("/clinician/enrolments/<int:enrolment_id>/contacts", methods=["POST"])
@role_required("clinician")
def schedule(enrolment_id: int):
    """Plan a follow-up contact (phone, video or visit) with a date, time and purpose."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    back = url_for("clinician.care", enrolment_id=enrolment.id) + "#contacts"
    form = forms.ContactForm()
    if enrolment.status == "closed":
        flash(str(forms.CONTACT_HOW), "error")
        return redirect(back)
    if not form.validate_on_submit():
        flash_problems(form)
        return redirect(back)
    services.schedule_contact(enrolment, current_user, form.kind.data,
                              services.contact_time(form.day.data, form.time.data), form.purpose.data)
    db.session.commit()
    flash(_("The follow-up contact is planned."), "success")
    return redirect(back)


@bp.route("/clinician/contacts/<int:contact_id>/outcome", methods=["POST"])
@role_required("clinician")
def outcome(contact_id: int):
    """Record how a contact went: kept or missed, a short note and optionally a new rating."""
    contact = services.get_contact(contact_id)
    if contact is None:
        abort(404)
    enrolment = load_enrolment_for_clinician(contact.enrolment_id, current_user)
    form = forms.OutcomeForm()
    back = (url_for("careplan.worklist") if form.back.data == "worklist"
            else url_for("clinician.care", enrolment_id=enrolment.id) + "#contacts")
    if not form.validate_on_submit():
        flash(str(forms.OUTCOME_PROBLEM), "error")
        return redirect(back)
    services.record_outcome(contact, enrolment, current_user, form.outcome.data, form.note.data or "",
                            form.rating.data)
    db.session.commit()
    flash(_("The outcome is recorded."), "success")
    return redirect(back)


@bp.route("/clinician/follow-ups")
@role_required("clinician")
def worklist():
    """Today's and overdue follow-up contacts, and those missed in the last 30 days."""
    mine_only = request.args.get("all") != "1"
    due, missed = services.worklist(unit_ids_subquery(current_user), current_user, mine_only=mine_only)
    drafts.take()  # a note written when the session had ended, given back in its form
    log_access(current_user, "follow_ups.view", detail=f"due={len(due)} missed={len(missed)}",
               patient_ids=[patient.id for _contact, _enrolment, patient in due + missed])
    html = render_template("careplan/worklist.html", due=due, missed=missed, mine_only=mine_only)
    db.session.commit()
    return html
