"""Clinician pages: caseload, opening access, the enrolment page and its changes."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectChoice

from webapp.auth.models import CareUnit, User
from webapp.auth.services import units_of
from webapp.careplan import services as plan_services
from webapp.clinician import forms, overview, reply, services
from webapp.content.services import OPENINGS, get_catalogue
from webapp.core import drafts
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.dates import day_start, local_today, to_local
from webapp.core.db import utcnow
from webapp.core.i18n import LANGUAGE_NAMES, in_language
from webapp.core.identity import format_personal_number
from webapp.core.numbers import int_or_none
from webapp.extensions import db, limiter
from webapp.groups import services as group_services
from webapp.library import services as library_services
from webapp.library.forms import ShareInformationForm
from webapp.messages import services as message_services
from webapp.messages.services import conversations_for
from webapp.programme import diaries, enrolments
from webapp.programme import services as patient_services
from webapp.questionnaires import alerts
from webapp.questionnaires.services import history as questionnaire_history
from webapp.replies import services as reply_services
from webapp.replies.forms import ReplyForm

bp = Blueprint("clinician", __name__, url_prefix="/clinician", template_folder="templates")

FLAG_LABELS = {
    "safety": _l("Safety answer not yet acknowledged"),
    "message": _l("Unread message from the patient"),
    "feedback": _l("New answers waiting for feedback"),
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
        flagged=args.get("flagged") == "1", behind=args.get("behind") == "1", feedback=args.get("feedback") == "1",
        q=args.get("q", "")[:100], sort=args.get("sort", "triage") if args.get("sort") in services.SORTS else "triage",
        # Bounded: a huge page number is nobody's real page and would overflow the database's integers.
        page=int_or_none(args.get("page"), 1, 100_000) or 1,
    )
    behind_days = current_app.config["BEHIND_SCHEDULE_DAYS"]
    rows, total, open_alerts = services.caseload_page(current_user, filters, behind_days=behind_days)
    # Names and identity numbers on screen are a read of patient data.
    # What was searched for is part of what was looked at; quoted, so the detail stays key=value.
    search = f" search={quote(filters.q, safe='')}" if filters.q else ""
    log_access(current_user, "caseload.view", detail=f"page={filters.page} patients={len(rows)} total={total}{search}",
               patient_ids=[row.enrolment.patient_id for row in rows])
    catalogue = get_catalogue()
    totals = {pid: len(p.published_modules) for pid, p in catalogue.programmes.items()}
    locale = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])  # the template's current_locale
    html = render_template("clinician/caseload.html", rows=rows, total=total, filters=filters,
                           page_size=services.PAGE_SIZE, catalogue=catalogue, totals=totals,
                           behind_days=behind_days, now=utcnow(),
                           # Translated once a page, not once a row (the template's loop uses them).
                           flag_labels={flag: str(label) for flag, label in FLAG_LABELS.items()},
                           # What the status_label helper says, once a status.
                           status_labels={status: str(label) for status, label in enrolments.STATUS_LABELS.items()},
                           # With their own lang and dir when not in the page's language (the |lang filter).
                           programme_titles={pid: in_language(catalogue.title(pid, locale))
                                             for pid in {row.enrolment.programme_id for row in rows}},
                           progress_text=_("%(done)s of %(total)s"), day_text=_("%(days)s of %(recommended)s"),
                           open_alerts=alerts.count_open(current_user) if open_alerts is None else open_alerts)
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
    # A deactivated care unit takes no new patients.
    units = [unit for unit in units_of(current_user) if unit.is_active]
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


# --- the enrolment page: an overview and its sections ---------------------------------
# Each section is its own URL (works without JavaScript, and each costs only what
# it shows); _enrolment_nav.html links them. Every view logs the read and
# records the clinician's visit, so "new" means new since their previous visit.

SECTIONS = ("overview", "answers", "schedule", "outcomes", "care", "settings")


def _open_section(enrolment_id: int, action: str):
    """The enrolment (or 404), its programme, the access-log row and since when things are new."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    log_access(current_user, action, patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
    since = enrolments.record_visit(enrolment, current_user)
    return enrolment, get_catalogue().programmes.get(enrolment.programme_id), since


def _render_section(template: str, section: str, enrolment, programme, status: int = 200, **context):
    html = render_template(template, section=section, enrolment=enrolment, programme=programme,
                           safety_alerts=alerts.open_alerts([enrolment.id]).get(enrolment.id, []), **context)
    db.session.commit()  # the access-log entry and the visit, after rendering (see caseload)
    return html, status


@bp.route("/enrolments/<int:enrolment_id>")
@role_required("clinician")
def enrolment(enrolment_id: int):
    """The overview: what is new since this clinician's last visit, the next step and the key facts."""
    enrolment, programme, since = _open_section(enrolment_id, "enrolment.view")
    schedule = patient_services.schedule_for(enrolment, programme) if programme else []
    dispatches = questionnaire_history(enrolment)
    catalogue_forms = get_catalogue().forms
    conversation = conversations_for([enrolment.id]).get(enrolment.id)
    new = overview.whats_new(enrolment, programme, schedule, dispatches, catalogue_forms, since)
    step, step_module = overview.next_step(enrolment, programme, schedule, new, conversation)
    return _render_section(
        "clinician/enrolment.html", "overview", enrolment, programme, schedule=schedule, new=new,
        step=step, step_module=step_module, done=patient_services.progress_counts(schedule),
        flags=services.flags_for(enrolment), conversation=conversation,
        opening=patient_services.opening_of(enrolment, programme) if programme else None)


@bp.route("/enrolments/<int:enrolment_id>/answers")
@role_required("clinician")
def answers(enrolment_id: int):
    """The patient's answers by module, newest first, "new" marked, with the feedback form beside them."""
    enrolment, programme, since = _open_section(enrolment_id, "enrolment.answers")
    restored = drafts.take()
    form = forms.FeedbackForm(formdata=restored.fields if restored else None)
    return _render_answers(enrolment, programme, since, form)


def _render_answers(enrolment, programme, since, form, status: int = 200):
    schedule = patient_services.schedule_for(enrolment, programme) if programme else []
    summary = patient_services.summary_for(enrolment, programme, current_user.locale) if programme else []
    upcoming = patient_services.next_module(schedule)
    opening = patient_services.opening_of(enrolment, programme) if programme else None
    form.template.choices = [SelectChoice(v, label) for v, label in
                             [("", _("Choose a template")), *_template_choices(enrolment)]]
    if request.method == "GET" and not form.is_submitted() and upcoming is not None and not form.body.data:
        form.open_next.data = opening == "after-feedback"
    return _render_section(
        "clinician/enrolment_answers.html", "answers", enrolment, programme, status=status,
        modules=overview.answers_by_module(programme, summary, overview.new_since(enrolment, since))
        if programme else [], upcoming=upcoming, opening=opening, form=form,
        diaries=diaries.views_for(enrolment, programme, current_user.locale) if programme else [])


def _template_choices(enrolment):
    labels = {"built_in": _("built in"), "unit": _("care unit"), "mine": _("personal")}
    return message_services.template_choices(current_user, enrolment, labels)


@bp.route("/enrolments/<int:enrolment_id>/feedback", methods=["POST"])
@role_required("clinician")
@limiter.limit(lambda: current_app.config["RATELIMIT_MESSAGES"], key_func=lambda: f"messages:{current_user.get_id()}")
def feedback(enrolment_id: int):
    """Send feedback: a message to the patient; it opens the next module (if ticked) and marks the answers read.

    The "Insert" button fills the chosen template into the text instead (no JavaScript needed).
    """
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    programme = get_catalogue().programmes.get(enrolment.programme_id)
    form = forms.FeedbackForm()
    form.template.choices = []  # the value is checked by message_services.resolve_template
    if not form.validate_on_submit():
        return _feedback_again(enrolment, programme, form)
    if "insert" in request.form:
        filled = message_services.filled_template(form.template.data, current_user, enrolment)
        if filled is None:
            form.template.errors = [_("Choose a template.")]
        else:
            form.body.data = message_services.insert_template(form.body.data, filled)
        return _feedback_again(enrolment, programme, form, status=200 if filled is not None else 400)
    try:
        message_services.post_as_staff(enrolment, current_user, form.body.data)
    except message_services.MessageError as exc:
        db.session.rollback()
        form.body.errors = [MESSAGE_ERRORS[exc.code]()]
        return _feedback_again(enrolment, programme, form)
    opened = None
    if form.open_next.data and programme is not None and enrolment.has_access:
        schedule = patient_services.schedule_for(enrolment, programme)
        opened = patient_services.open_next_module(enrolment, schedule)
    enrolment.answers_read_at = utcnow()
    # The history names the module that opened (its id: the history is read in several languages).
    enrolments.add_event(enrolment, current_user, "feedback", f"→ {opened.module.id}" if opened else "")
    db.session.commit()
    if opened is not None:
        flash(_("Your feedback is sent and the module “%(title)s” is open to the patient.",
                title=opened.module.version(current_user.locale)[0].title), "success")
    else:
        flash(_("Your feedback is sent."), "success")
    return redirect(url_for("clinician.answers", enrolment_id=enrolment.id))


def _feedback_again(enrolment, programme, form, status: int = 400):
    """The answers view again with what was typed (an error, or a template inserted)."""
    log_access(current_user, "enrolment.answers", patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
    since = enrolments.record_visit(enrolment, current_user)
    return _render_answers(enrolment, programme, since, form, status=status)


MESSAGE_ERRORS = {
    "empty": lambda: _("Write your feedback before you send it."),
    "too_long": lambda: _("The message is too long. Shorten it to at most %(n)s characters and send again.",
                          n=f"{message_services.MAX_LENGTH:,}".replace(",", "\u00a0")),
    "closed": lambda: _("This conversation is closed and cannot get new messages."),
}


@bp.route("/enrolments/<int:enrolment_id>/schedule", methods=["GET", "POST"])
@role_required("clinician")
def schedule(enrolment_id: int):
    """The module schedule as one table and one form: how modules open, and each module's plan and day."""
    if request.method == "GET":
        enrolment, programme, _since = _open_section(enrolment_id, "enrolment.schedule")
        return _render_schedule(enrolment, programme, None)
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    programme = get_catalogue().programmes.get(enrolment.programme_id)
    if programme is None or not enrolment.is_open:
        abort(409)
    form = forms.ScheduleForm()
    known = {m.id for m in programme.published_modules}
    if not form.validate_on_submit() or any(row.form.module_id.data not in known for row in form.rows) \
            or form.opening.data not in ("", *OPENINGS):
        log_access(current_user, "enrolment.schedule", patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
        return _render_schedule(enrolment, programme, form, status=400)
    enrolments.set_opening(enrolment, current_user, form.opening.data or None)
    current = {s.module.id: s for s in patient_services.schedule_for(enrolment, programme)}
    changed = 0
    for row in form.rows:
        data, item = row.form, current[row.form.module_id.data]
        if data.planned.data == "no" and not item.is_skipped:
            enrolments.set_schedule(enrolment, current_user, item.module.id, "skip", None)
            changed += 1
            continue
        if data.planned.data == "yes" and item.is_skipped:
            enrolments.set_schedule(enrolment, current_user, item.module.id, "include", None)
            changed += 1
        if data.open_now.data and not item.is_open:
            enrolments.set_schedule(enrolment, current_user, item.module.id, "open_now", None)
            changed += 1
        elif data.opens_on.data is not None and (item.opens_at is None
                                                 or data.opens_on.data != to_local(item.opens_at).date()):
            # Modules open at the start of the chosen day, Swedish time.
            enrolments.set_schedule(enrolment, current_user, item.module.id, "set_date", day_start(data.opens_on.data))
            changed += 1
    db.session.commit()
    flash(_("The schedule is saved.") if changed or form.opening.data != (enrolment.opening or "")
          else _("The schedule is saved (nothing changed)."), "success")
    return redirect(url_for("clinician.schedule", enrolment_id=enrolment.id))


def _render_schedule(enrolment, programme, form, status: int = 200):
    schedule = patient_services.schedule_for(enrolment, programme) if programme else []
    if form is None:
        form = forms.ScheduleForm(formdata=None, opening=enrolment.opening or "", rows=[
            {"module_id": s.module.id, "planned": "no" if s.is_skipped else "yes",
             "opens_on": to_local(s.opens_at).date() if s.opens_at else None, "open_now": False}
            for s in schedule])
    # Rows pair with the schedule by position: a re-shown form keeps what was typed,
    # and a tampered module id is put back to the module of that row.
    items = []
    for row, item in zip(form.rows, schedule, strict=False):
        row.form.module_id.data = item.module.id
        items.append((row, item))
    return _render_section(
        "clinician/enrolment_schedule.html", "schedule", enrolment, programme, status=status, form=form,
        items=items,
        programme_opening=programme.opening if programme else None,
        opening_labels={key: str(label) for key, label in forms.OPENING_CHOICES if key})


@bp.route("/enrolments/<int:enrolment_id>/outcomes")
@role_required("clinician")
def outcomes(enrolment_id: int):
    """Every questionnaire score with its timepoint, band and reliable change; sending and reminders."""
    enrolment, programme, _since = _open_section(enrolment_id, "enrolment.outcomes")
    dispatches = questionnaire_history(enrolment)
    catalogue_forms = get_catalogue().forms
    return _render_section(
        "clinician/enrolment_outcomes.html", "outcomes", enrolment, programme,
        results=overview.outcomes(enrolment, dispatches, catalogue_forms), dispatches=dispatches,
        forms=catalogue_forms,
        # Item answers of the newest questionnaires only, unless asked: a weekly measure
        # over a year would otherwise make this page grow by a screenful a week.
        answers_shown=None if request.args.get("answers") == "all" else ANSWERS_SHOWN)


@bp.route("/enrolments/<int:enrolment_id>/care")
@role_required("clinician")
def care(enrolment_id: int):
    """The care plan, the follow-up contacts and the group."""
    enrolment, programme, _since = _open_section(enrolment_id, "enrolment.care")
    drafts.take()  # a contact note written when the session had ended goes back into its form here
    share_form = ShareInformationForm()
    share_form.information.choices = library_services.information_choices(get_catalogue(), current_user.locale)
    return _render_section(
        "clinician/enrolment_care.html", "care", enrolment, programme,
        plan=plan_services.get_plan(enrolment), contacts=plan_services.contacts_for(enrolment),
        group=group_services.sessions_for([enrolment.id]).get(enrolment.id),
        share_form=share_form, content_language_names=LANGUAGE_NAMES,
        information_sent=library_services.sent_items(
            get_catalogue(), library_services.shared_for([enrolment.id]).get(enrolment.id, []), enrolment.patient.locale),
        handouts=library_services.handouts(get_catalogue(), enrolment.patient.locale))


@bp.route("/enrolments/<int:enrolment_id>/settings")
@role_required("clinician")
def settings(enrolment_id: int):
    """Welcome text, duration, hand-over, end date, maintenance, closing, and the history."""
    enrolment, programme, _since = _open_section(enrolment_id, "enrolment.settings")
    hand_over = forms.HandOverForm()
    hand_over.clinician.choices = services.clinician_choices(current_user)
    hand_over.unit.choices = [(u.id, u.name) for u in units_of(current_user)]
    return _render_section(
        "clinician/enrolment_settings.html", "settings", enrolment, programme,
        history=enrolments.history(enrolment), close_form=forms.CloseForm(), extend_form=forms.ExtendForm(),
        hand_over_form=hand_over,
        end_date_form=forms.EndDateForm(ends_on=to_local(enrolment.ends_at).date() if enrolment.ends_at else None),
        welcome_form=forms.WelcomeForm(welcome_text=enrolment.welcome_text))


@bp.route("/alerts")
@role_required("clinician")
def safety_alerts():
    """The care units' safety alerts: open ones first, then those acknowledged lately, with the
    median and slowest time to acknowledgement."""
    overview = alerts.unit_alerts(current_user)
    shown = overview.open + overview.recent
    log_access(current_user, "safety_alerts.view", detail=f"open={len(overview.open)} recent={len(overview.recent)}",
               patient_ids=[enrolment.patient_id for _alert, enrolment in shown])
    html = render_template("clinician/safety_alerts.html", overview=overview, recent_days=alerts.RECENT_DAYS,
                           now=utcnow())
    db.session.commit()  # the access-log entry, after rendering (see caseload)
    return html


@bp.route("/alerts/<int:alert_id>", methods=["GET", "POST"])
@role_required("clinician")
def safety_alert(alert_id: int):
    """One safety alert: the answer it is about, and the acknowledgement with a note of what was done."""
    alert = alerts.load_alert_for_clinician(alert_id, current_user)
    enrolment = enrolments.load_enrolment_for_clinician(alert.enrolment_id, current_user)
    form = forms.AcknowledgeAlertForm()
    if form.validate_on_submit():
        try:
            alerts.acknowledge(alert, enrolment, current_user, form.note.data)
        except alerts.AlertError as exc:
            if exc.code != "already_acknowledged":
                raise
            flash(_("A colleague has already acknowledged this alert."), "error")
            return redirect(url_for("clinician.safety_alert", alert_id=alert.id))
        log_access(current_user, "safety_alert.acknowledge", patient_id=enrolment.patient_id,
                   enrolment_id=enrolment.id, detail=f"alert={alert.id}")
        db.session.commit()
        flash(_("The safety alert is acknowledged. Your note is in the enrolment's history."), "success")
        return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id))
    log_access(current_user, "safety_alert.view", patient_id=enrolment.patient_id, enrolment_id=enrolment.id,
               detail=f"alert={alert.id}")
    form_definition = get_catalogue().forms.get(alert.submission.form_id) if alert.submission else None
    html = render_template("clinician/safety_alert.html", alert=alert, enrolment=enrolment, form=form,
                           questionnaire=form_definition), 400 if form.is_submitted() else 200
    db.session.commit()
    return html


def _back(enrolment):
    """After a change of access or duration: back to the section where it was made."""
    return redirect(url_for("clinician.settings", enrolment_id=enrolment.id))


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


# --- the reply to the referring unit ----------------------------------------------------


@bp.route("/enrolments/<int:enrolment_id>/reply", methods=["GET", "POST"])
@role_required("clinician")
def reply_edit(enrolment_id: int):
    """Write the reply to the referring unit: a draft from the enrolment, reviewed and edited, saved as a version.

    A new reply starts from what Lotsa knows; once saved, the editor opens with the
    newest version (``?fresh=1`` fills it in again from the enrolment).
    """
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    programme = get_catalogue().programmes.get(enrolment.programme_id)
    saved = reply_services.versions(enrolment)
    if request.method == "POST":
        form = ReplyForm()
        if form.validate_on_submit():
            try:
                version = reply_services.save(enrolment, current_user, current_user.locale, form.recipient.data,
                                              {key: form[key].data for key in reply_services.SECTIONS})
            except reply_services.ReplyProblems as exc:  # the form's limits are the service's: a backstop
                db.session.rollback()
                for key in exc.problems:
                    form[key].errors = [str(TOO_LONG_REPLY)]
            else:
                log_access(current_user, "reply.save", patient_id=enrolment.patient_id, enrolment_id=enrolment.id,
                           detail=f"version={version.number}")
                db.session.commit()
                flash(_("The reply is saved as version %(n)s. Print it or save it as a PDF.", n=version.number),
                      "success")
                return redirect(url_for("clinician.reply_print", enrolment_id=enrolment.id, number=version.number))
        log_access(current_user, "reply.edit", patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
        return _render_section("clinician/reply_edit.html", "reply", enrolment, programme, status=400,
                               form=form, saved=saved)
    log_access(current_user, "reply.edit", patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
    restored = drafts.take()  # a reply written when the session had ended comes back as it was typed
    if restored is not None and restored.action == url_for("clinician.reply_edit", enrolment_id=enrolment.id):
        form = ReplyForm(formdata=restored.fields)
    elif saved and request.args.get("fresh") != "1":
        newest = reply_services.content_of(saved[0])
        form = ReplyForm(formdata=None, recipient=saved[0].recipient, **newest)
    else:
        form = ReplyForm(formdata=None, **reply.draft(enrolment, programme, current_user.locale))
    return _render_section("clinician/reply_edit.html", "reply", enrolment, programme, form=form, saved=saved)


TOO_LONG_REPLY = _l("The text is too long. Shorten it to at most 10,000 characters.")


@bp.route("/enrolments/<int:enrolment_id>/reply/<int:number>")
@role_required("clinician")
def reply_print(enrolment_id: int, number: int):
    """One saved version of the reply as a page to print or save as a PDF."""
    enrolment = enrolments.load_enrolment_for_clinician(enrolment_id, current_user)
    version = reply_services.get_version(enrolment, number)
    if version is None:
        abort(404)
    log_access(current_user, "reply.print", patient_id=enrolment.patient_id, enrolment_id=enrolment.id,
               detail=f"version={number}")
    html = render_template("clinician/reply_print.html", enrolment=enrolment, reply=version,
                           content=reply_services.content_of(version),
                           programme=get_catalogue().programmes.get(enrolment.programme_id))
    db.session.commit()
    return html
