"""Clinician pages: caseload, opening access, the enrolment page and its changes."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from webapp.auth.models import CareUnit, User
from webapp.auth.services import units_of
from webapp.careplan import services as plan_services
from webapp.clinician import forms, services
from webapp.content.services import get_catalogue
from webapp.core import drafts
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.dates import day_start, local_today, to_local
from webapp.core.i18n import LANGUAGE_NAMES
from webapp.core.identity import format_personal_number
from webapp.core.markdown import render_markdown
from webapp.core.numbers import int_or_none
from webapp.extensions import db
from webapp.groups import services as group_services
from webapp.library import services as library_services
from webapp.library.forms import ShareInformationForm
from webapp.messages.services import conversations_for
from webapp.programme import enrolments
from webapp.programme import services as patient_services
from webapp.questionnaires.services import history as questionnaire_history

bp = Blueprint("clinician", __name__, url_prefix="/clinician", template_folder="templates")

FLAG_LABELS = {
    "safety": _l("Safety answer"),
    "inactive": _l("Inactive 14+ days"),
    "duration_reached": _l("Recommended duration reached"),
    "closing_soon": _l("Recommended duration ends soon"),
}


@bp.app_context_processor
def _flag_labels():
    return {"flag_label": lambda flag: str(FLAG_LABELS.get(flag, flag))}



@bp.app_template_filter("pnr")
def _pnr(value):
    return format_personal_number(value)


@bp.route("/")
@role_required("clinician")
def caseload():
    """The clinician's start page: enrolments of their care units, filtered and sorted."""
    args = request.args
    filters = services.CaseloadFilters(
        scope=args.get("scope", "unit") if args.get("scope") in ("mine", "unit") else "unit",
        status=args.get("status", "open"), programme=args.get("programme", ""),
        flagged=args.get("flagged") == "1", q=args.get("q", "")[:100], sort=args.get("sort", "started"),
        # Bounded: a huge page number is nobody's real page and would overflow the database's integers.
        page=int_or_none(args.get("page"), 1, 100_000) or 1,
    )
    rows, total = services.caseload(current_user, filters)
    # Names and identity numbers on screen are a read of patient data.
    log_access(current_user, "caseload.view", detail=f"page {filters.page}, {len(rows)} of {total}"
               + (f", search {filters.q!r}" if filters.q else ""),
               patient_ids=[row.enrolment.patient_id for row in rows])
    catalogue = get_catalogue()
    totals = {pid: len(p.published_modules) for pid, p in catalogue.programmes.items()}
    conversations = conversations_for([row.enrolment.id for row in rows])
    html = render_template("clinician/caseload.html", rows=rows, total=total, filters=filters,
                           page_size=services.PAGE_SIZE, catalogue=catalogue, totals=totals,
                           conversations=conversations)
    # Commit after rendering: a commit expires the loaded rows, and reading them
    # again would cost a query per row.
    db.session.commit()
    return html


@bp.route("/open", methods=["GET", "POST"])
@role_required("clinician")
def open_access():
    """Open a patient's access to a programme: find or register them, then set it up."""
    catalogue = get_catalogue()
    programme_choices = [(p.id, p.title(str(current_user.locale))) for p in catalogue.programmes.values()
                         if p.published_modules]
    units = units_of(current_user)
    if not units:
        abort(403)
    start = forms.OpenAccessStartForm()
    start.programme.choices = programme_choices
    if request.method == "POST" and request.form.get("step") == "2":
        return _open_access_details(catalogue, units)
    if start.validate_on_submit():
        patient = enrolments.find_patient(start.personal_number.normalised)
        programme = catalogue.programmes[start.programme.data]
        form = forms.OpenAccessForm(formdata=None, personal_number=start.personal_number.normalised,
                                    programme=programme.id, recommended_days=programme.recommended_days,
                                    responsible=current_user.id,
                                    locale=patient.locale if patient else programme.default_language)
        form.welcome_text.data = enrolments.default_welcome(programme, form.locale.data)
        return _render_details(form, programme, patient)
    return render_template("clinician/open_start.html", form=start)


def _setup_details_form(form, programme):
    form.responsible.choices = services.clinician_choices(current_user)
    form.locale.choices = [(code, code) for code in programme.languages]
    form.skipped.choices = [(m.id, f"{m.position}. {m.versions[programme.default_language].title}")
                            for m in programme.published_modules]


def _render_details(form, programme, patient, status=200):
    _setup_details_form(form, programme)
    form.locale.choices = [(code, LANGUAGE_NAMES.get(code, code)) for code in programme.languages]
    html = render_template("clinician/open_details.html", form=form, programme=programme, patient=patient)
    if patient is not None:
        # Finding a person by identity number shows who they are: that is a read of patient data.
        log_access(current_user, "patient.lookup", patient_id=patient.id)
        db.session.commit()
    return html, status


def _open_access_details(catalogue, units):
    form = forms.OpenAccessForm()
    programme = catalogue.programmes.get(form.programme.data or "")
    if programme is None:
        abort(400)
    _setup_details_form(form, programme)
    patient = None
    valid = form.validate_on_submit()
    if valid:
        patient = enrolments.find_patient(form.personal_number.normalised)
        if patient is None:
            for field, message in ((form.full_name, _("Write the patient's name.")),
                                   (form.email, _("Write the patient's e-mail address; the invitation is sent there."))):
                if not (field.data or "").strip():
                    field.errors.append(message)
                    valid = False
    if not valid:
        return _render_details(form, programme, patient, status=400)
    try:
        if patient is None:
            patient = enrolments.register_patient(
                personal_number=form.personal_number.normalised, full_name=form.full_name.data.strip(),
                email=form.email.data, phone=form.phone.data, locale=form.locale.data)
            db.session.flush()
        responsible = db.session.get(User, form.responsible.data)
        unit = units[0] if len(units) == 1 else _unit_shared_with(units, responsible)
        enrolment = enrolments.open_enrolment(
            patient=patient, programme=programme, unit=unit, clinician=current_user, responsible=responsible,
            recommended_days=form.recommended_days.data, welcome_text=form.welcome_text.data or "",
            skipped=[m for m in form.skipped.data or [] if programme.module(m)])
    except enrolments.EnrolmentError as exc:
        db.session.rollback()
        messages = {"email_taken": _("Another account already uses this e-mail address."),
                    "already_open": _("The patient already has open access to this programme.")}
        (form.email.errors if exc.code == "email_taken" else form.programme.errors).append(messages[exc.code])
        return _render_details(form, programme, None, status=400)
    db.session.commit()
    flash(_("Access opened. The patient has been told by e-mail and SMS.") if patient.phone
          else _("Access opened. The patient has been told by e-mail."), "success")
    return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id))


def _unit_shared_with(units: list[CareUnit], responsible: User | None) -> CareUnit:
    if responsible is not None:
        theirs = {m.care_unit_id for m in responsible.memberships}
        for unit in units:
            if unit.id in theirs:
                return unit
    return units[0]


ANSWERS_SHOWN = 10


@bp.route("/enrolments/<int:enrolment_id>")
@role_required("clinician")
def enrolment(enrolment_id: int):
    """Everything about one enrolment: schedule, progress, answers, history."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    log_access(current_user, "enrolment.view", patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
    drafts.take()  # a note written when the session had ended goes back into its form on this page
    programme = get_catalogue().programmes.get(enrolment.programme_id)
    schedule = patient_services.schedule_for(enrolment, programme) if programme else []
    summary = patient_services.summary_for(enrolment, programme, current_user.locale) if programme else []
    share_form = ShareInformationForm()
    share_form.information.choices = library_services.information_choices(get_catalogue(), current_user.locale)
    hand_over = forms.HandOverForm()
    hand_over.clinician.choices = services.clinician_choices(current_user)
    hand_over.unit.choices = [(u.id, u.name) for u in units_of(current_user)]
    html = render_template(
        "clinician/enrolment.html", enrolment=enrolment, programme=programme, schedule=schedule, summary=summary,
        done=patient_services.progress_counts(schedule), flags=services.flags_for(enrolment),
        history=enrolments.history(enrolment), render_markdown=render_markdown,
        conversation=conversations_for([enrolment.id]).get(enrolment.id),
        dispatches=questionnaire_history(enrolment), forms=get_catalogue().forms,
        # Item answers of the newest questionnaires only, unless asked: a weekly measure
        # over a year would otherwise make this page grow by a screenful a week.
        answers_shown=None if request.args.get("answers") == "all" else ANSWERS_SHOWN,
        plan=plan_services.get_plan(enrolment), contacts=plan_services.contacts_for(enrolment),
        group=group_services.sessions_for([enrolment.id]).get(enrolment.id),
        close_form=forms.CloseForm(), extend_form=forms.ExtendForm(), hand_over_form=hand_over,
        end_date_form=forms.EndDateForm(ends_on=to_local(enrolment.ends_at).date() if enrolment.ends_at else None),
        welcome_form=forms.WelcomeForm(welcome_text=enrolment.welcome_text), schedule_form=forms.ScheduleForm(),
        share_form=share_form, content_language_names=LANGUAGE_NAMES | {"fa": "فارسی"},
        information_sent=library_services.sent_items(
            get_catalogue(), library_services.shared_for([enrolment.id]).get(enrolment.id, []), enrolment.patient.locale),
        handouts=library_services.handouts(get_catalogue(), enrolment.patient.locale),
    )
    db.session.commit()  # the access-log entry, after rendering (see caseload)
    return html


def _back(enrolment):
    return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id))


def _form_errors(form) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(error, "error")


@bp.route("/enrolments/<int:enrolment_id>/close", methods=["POST"])
@role_required("clinician")
def close(enrolment_id: int):
    """Close access (with a reason and a confirmation); the patient is told."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    form = forms.CloseForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(enrolment)
    try:
        enrolments.close(enrolment, current_user, form.reason.data.strip())
    except enrolments.EnrolmentError:
        abort(409)
    db.session.commit()
    flash(_("Access is closed. The patient has been told."), "success")
    return _back(enrolment)


@bp.route("/enrolments/<int:enrolment_id>/reopen", methods=["POST"])
@role_required("clinician")
def reopen(enrolment_id: int):
    """Open a closed enrolment again."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    try:
        enrolments.reopen(enrolment, current_user)
    except enrolments.EnrolmentError:
        abort(409)
    db.session.commit()
    flash(_("Access is open again."), "success")
    return _back(enrolment)


@bp.route("/enrolments/<int:enrolment_id>/extend", methods=["POST"])
@role_required("clinician")
def extend(enrolment_id: int):
    """Extend the recommended duration."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    form = forms.ExtendForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(enrolment)
    enrolments.extend(enrolment, current_user, form.days.data)
    db.session.commit()
    flash(_("The recommended duration is now %(days)s days.", days=enrolment.recommended_days), "success")
    return _back(enrolment)


@bp.route("/enrolments/<int:enrolment_id>/maintenance", methods=["POST"])
@role_required("clinician")
def maintenance(enrolment_id: int):
    """Move to the maintenance phase: the patient keeps reading, nothing new opens."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    try:
        enrolments.start_maintenance(enrolment, current_user)
    except enrolments.EnrolmentError:
        abort(409)
    db.session.commit()
    flash(_("The enrolment is in the maintenance phase."), "success")
    return _back(enrolment)


@bp.route("/enrolments/<int:enrolment_id>/hand-over", methods=["POST"])
@role_required("clinician")
def hand_over(enrolment_id: int):
    """Make a colleague the responsible clinician."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    form = forms.HandOverForm()
    form.clinician.choices = services.clinician_choices(current_user)
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(enrolment)
    to = db.session.get(User, form.clinician.data)
    try:
        target_unit = enrolments.hand_over_unit(enrolment, current_user, to, form.unit.data)
    except enrolments.EnrolmentError:
        flash(_("%(name)s does not work at this care unit. Choose which of your shared care units takes over "
                "the patient's care.", name=to.full_name), "error")
        return _back(enrolment)
    enrolments.hand_over(enrolment, current_user, to, target_unit)
    db.session.commit()
    flash(_("%(name)s is now the responsible clinician.", name=to.full_name), "success")
    if target_unit is not None and target_unit.id not in {u.id for u in units_of(current_user)}:
        return redirect(url_for("clinician.caseload"))
    return _back(enrolment)


@bp.route("/enrolments/<int:enrolment_id>/end-date", methods=["POST"])
@role_required("clinician")
def end_date(enrolment_id: int):
    """Set or clear the day access closes by itself (the patient is told 14 days before)."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    form = forms.EndDateForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(enrolment)
    ends_at = None
    if form.ends_on.data is not None:
        if form.ends_on.data <= local_today():
            flash(_("Choose a day after today."), "error")
            return _back(enrolment)
        ends_at = day_start(form.ends_on.data)
    enrolments.set_end_date(enrolment, current_user, ends_at)
    db.session.commit()
    flash(_("Access closes by itself on %(date)s.", date=form.ends_on.data) if ends_at
          else _("Access no longer closes by itself."), "success")
    return _back(enrolment)


@bp.route("/enrolments/<int:enrolment_id>/welcome", methods=["POST"])
@role_required("clinician")
def welcome(enrolment_id: int):
    """Edit the welcome text the patient sees on their start page."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    form = forms.WelcomeForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(enrolment)
    enrolments.set_welcome(enrolment, current_user, form.welcome_text.data or "")
    db.session.commit()
    flash(_("The welcome text is saved."), "success")
    return _back(enrolment)


@bp.route("/enrolments/<int:enrolment_id>/schedule", methods=["POST"])
@role_required("clinician")
def schedule(enrolment_id: int):
    """Leave a module out, take it back, open it now or set the day it opens."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    form = forms.ScheduleForm()
    programme = get_catalogue().programmes.get(enrolment.programme_id)
    if not form.validate_on_submit() or programme is None or programme.module(form.module_id.data) is None \
            or form.action.data not in ("skip", "include", "open_now", "set_date"):
        _form_errors(form)
        return _back(enrolment)
    opens_at = None
    if form.action.data == "set_date":
        if form.opens_on.data is None:
            flash(_("Choose a date."), "error")
            return _back(enrolment)
        # Modules open at the start of the chosen day, Swedish time.
        opens_at = day_start(form.opens_on.data)
    enrolments.set_schedule(enrolment, current_user, form.module_id.data, form.action.data, opens_at)
    db.session.commit()
    flash(_("The schedule is saved."), "success")
    return _back(enrolment)
