"""Questionnaires: clinicians send them, patients answer them, results are followed.

The forms are Flask-WTF forms (``forms.py``); the answer form is built per
questionnaire. Answers are never lost: a form with problems is shown again as
written, and what fitted is kept as the draft.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select
from wtforms import SelectChoice

from webapp.auth.services import unit_ids_subquery, units_of
from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.dates import day_end, day_start, parse_filter_day
from webapp.core.db import utcnow
from webapp.core.forms import flash_problems
from webapp.core.i18n import in_language, language_label
from webapp.core.templating import isolate
from webapp.extensions import db
from webapp.programme.enrolments import load_enrolment_for_clinician, load_enrolment_for_patient
from webapp.questionnaires import forms, services
from webapp.questionnaires.models import Dispatch, Round

bp = Blueprint("questionnaires", __name__, template_folder="templates")


def band_label(form, stored: str) -> str:
    """A stored band (its English label) in the reader's language."""
    locale = str(get_locale() or "sv")
    for scale in [form.total, *form.subscales.values()] if form.total else form.subscales.values():
        for band in scale.bands:
            if band.labels.get("en") == stored:
                return band.labels.get(locale) or stored
    return stored


@bp.app_context_processor
def _band_label():
    return {"band_label": band_label}


# The service's reasons for refusing a round's recipients: the field they belong to, and what to say.
RECIPIENT_PROBLEMS = {
    "none_active": ("programme_id", _l("No patient in this care unit is active in this programme.")),
    "not_in_unit": ("enrolment_id", _l("Choose patients who are active in the chosen care unit.")),
}


def _locale() -> str:
    """The reader's language, for titles in choices."""
    return str(get_locale() or "sv")


def _form_or_404(form_id: str):
    """A questionnaire definition from the catalogue, or 404."""
    form = get_catalogue().forms.get(form_id)
    if form is None:
        abort(404)
    return form


def _sendable() -> list[SelectChoice]:
    """The questionnaires that can be sent (a licence-required one without its texts cannot), as choices."""
    return [SelectChoice(form.id, form.title(_locale())) for form in get_catalogue().forms.values() if form.has_text]


@bp.route("/clinician/enrolments/<int:enrolment_id>/questionnaires", methods=["POST"])
@role_required("clinician")
def send(enrolment_id: int):
    """Send a questionnaire to one patient, now or on a later day, with an optional last day to answer."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    back = url_for("clinician.outcomes", enrolment_id=enrolment.id) + "#sent"
    form = forms.SendForm()
    form.form_id.choices = _sendable()
    if enrolment.status == "closed":
        flash(_("Choose a questionnaire that can be sent."), "error")
        return redirect(back)
    if not form.validate_on_submit():
        flash_problems(form)
        return redirect(back)
    send_at, due_at = services.send_times(form.send_on.data, form.due_on.data)
    services.send_round(get_catalogue().forms[form.form_id.data], enrolment.care_unit_id, current_user, [enrolment],
                        send_at=send_at, due_at=due_at)
    db.session.commit()
    if send_at:
        flash(_("The questionnaire will be sent on %(date)s. The patient is told by e-mail then.",
                date=format_date(send_at, "long")), "success")
    else:
        flash(_("The questionnaire is sent. The patient has been told by e-mail."), "success")
    return redirect(back)


def _round_choices(form, catalogue, units, candidates) -> None:
    """What the send form offers: sendable questionnaires, the clinician's units, programmes, own patients."""
    locale = _locale()
    form.form_id.choices = _sendable()
    form.unit_id.choices = [SelectChoice(unit.id, unit.name) for unit in units]
    form.programme_id.choices = [SelectChoice(p.id, p.title(locale)) for p in catalogue.programmes.values()]
    unit_names = {unit.id: unit.name for unit in units}

    def label(enrolment):
        programme = catalogue.programmes.get(enrolment.programme_id)
        # The name is isolated and the title marked with its language (Markup: WTForms keeps it as it is);
        # the patient's language is said, so the sender sees who gets another language than their own.
        title = programme.title(locale) if programme else enrolment.programme_id
        text = Markup("%s – %s · %s") % (isolate(enrolment.patient.full_name), in_language(title),
                                         language_label(enrolment.patient.locale))
        # The unit is said only when there is more than one to tell apart.
        return Markup("%s (%s)") % (text, unit_names.get(enrolment.care_unit_id, "")) if len(units) > 1 else text

    form.enrolment_id.choices = [SelectChoice(enrolment.id, label(enrolment)) for enrolment in candidates]


@bp.route("/clinician/questionnaires", methods=["GET", "POST"])
@role_required("clinician")
def rounds():
    """Send a questionnaire to a recipient list, and follow every send: answered, waiting, overdue."""
    catalogue = get_catalogue()
    candidates = services.chosen_candidates(current_user)
    form = forms.RoundForm()
    _round_choices(form, catalogue, units_of(current_user), candidates)
    if not form.is_submitted():
        form.to.data = "programme"
    valid = form.validate_on_submit()
    # Who gets it is checked even when a day is wrong, so every problem is told at once.
    asked = form.recipients_asked()
    if asked is not None:
        try:
            enrolments = services.round_recipients(form.unit_id.data, **asked)
        except services.RecipientsError as exc:
            name, message = RECIPIENT_PROBLEMS[exc.code]
            form[name].errors.append(message)
            valid = False
    if valid and asked is not None:
        send_at, due_at = services.send_times(form.send_on.data, form.due_on.data)
        round_ = services.send_round(catalogue.forms[form.form_id.data], form.unit_id.data, current_user, enrolments,
                                     programme_id=asked.get("programme_id"), send_at=send_at, due_at=due_at)
        db.session.commit()
        flash(ngettext("The questionnaire is sent to %(num)d patient.",
                       "The questionnaire is sent to %(num)d patients.", len(enrolments)), "success")
        return redirect(url_for("questionnaires.round_detail", round_id=round_.id))
    overview = services.rounds_overview(unit_ids_subquery(current_user))
    # The names in the "chosen patients" list are patient data on screen.
    log_access(current_user, "questionnaires.rounds", detail=f"sends={len(overview)} listed={len(candidates)}",
               patient_ids=[enrolment.patient_id for enrolment in candidates])
    html = render_template("questionnaires/rounds.html", overview=overview, round_form=form,
                           forms=catalogue.forms, programmes=catalogue.programmes,
                           sendable_forms=[f for f in catalogue.forms.values() if f.has_text])
    db.session.commit()
    return html, 400 if form.errors else 200


@bp.route("/clinician/questionnaires/rounds/<int:round_id>")
@role_required("clinician")
def round_detail(round_id: int):
    """One send: each recipient answered, waiting or overdue, with their score and a reminder button."""
    round_ = db.session.scalar(select(Round).where(Round.id == round_id,
                                                   Round.care_unit_id.in_(unit_ids_subquery(current_user))))
    if round_ is None:
        abort(404)
    members = services.round_members(round_)
    log_access(current_user, "questionnaires.round", detail=f"round={round_.id} patients={len(members)}",
               patient_ids=[patient.id for _dispatch, _enrolment, patient in members])
    html = render_template("questionnaires/round.html", round=round_, members=members,
                           form=get_catalogue().forms.get(round_.form_id))
    db.session.commit()
    return html


@bp.route("/clinician/enrolments/<int:enrolment_id>/questionnaires/<int:dispatch_id>/remind", methods=["POST"])
@role_required("clinician")
def remind_now(enrolment_id: int, dispatch_id: int):
    """Remind the patient of an unanswered questionnaire now."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    dispatch = _load_dispatch(enrolment, dispatch_id)
    if services.can_remind(dispatch, enrolment):
        services.remind(dispatch, enrolment)
        db.session.commit()
        flash(_("A reminder is sent to the patient."), "success")
    if request.form.get("back") == "round" and dispatch.round_id:
        return redirect(url_for("questionnaires.round_detail", round_id=dispatch.round_id))
    return redirect(url_for("clinician.outcomes", enrolment_id=enrolment.id) + "#sent")


def _load_dispatch(enrolment, dispatch_id: int, visible_only: bool = False) -> Dispatch:
    """The enrolment's dispatch, or 404 (also for one sent for a later day, with ``visible_only``)."""
    dispatch = db.session.get(Dispatch, dispatch_id)
    if dispatch is None or dispatch.enrolment_id != enrolment.id:
        abort(404)
    if visible_only and dispatch.send_at > utcnow():
        # Sent for a later day: the patient cannot see it yet.
        abort(404)
    return dispatch


def _render_answer(enrolment, dispatch, definition, form, status: int):
    """The answer page with its form: as saved, or as just written with its problems.

    The form is in the patient's language if it has a version in it, else in the
    default language with a note saying so (``Questionnaire.reading``).
    """
    reading = definition.reading(current_user.locale)
    return render_template("questionnaires/answer.html", enrolment=enrolment, dispatch=dispatch,
                           questionnaire=definition, form=form, locale=reading.lang, reading=reading), status


@bp.route("/e/<int:enrolment_id>/questionnaires/<int:dispatch_id>", methods=["GET", "POST"])
@role_required("patient")
def answer(enrolment_id: int, dispatch_id: int):
    """Answer a questionnaire; answers can be saved on the way and nothing typed is lost."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user)
    dispatch = _load_dispatch(enrolment, dispatch_id, visible_only=True)
    if dispatch.answered_at is not None:
        return redirect(url_for("questionnaires.done", enrolment_id=enrolment.id, dispatch_id=dispatch.id))
    definition = _form_or_404(dispatch.form_id)
    answer_form = forms.answer_form(definition, definition.language_for(current_user.locale))
    if request.method == "GET":
        return _render_answer(enrolment, dispatch, definition, answer_form(data=services.draft_answers(dispatch)), 200)
    form = answer_form()
    if not form.validate_on_submit():
        # Keep what fitted, so a reload still has it; the page shows everything as written.
        services.save_draft(dispatch, form.answers())
        db.session.commit()
        return _render_answer(enrolment, dispatch, definition, form, 400)
    if form.is_final:
        services.submit(dispatch, enrolment, definition, form.answers())
        db.session.commit()
        return redirect(url_for("questionnaires.done", enrolment_id=enrolment.id, dispatch_id=dispatch.id))
    services.save_draft(dispatch, form.answers())
    db.session.commit()
    flash(_("Your answers are saved. You can finish later."), "success")
    return redirect(url_for("questionnaires.answer", enrolment_id=enrolment.id, dispatch_id=dispatch.id))


@bp.route("/e/<int:enrolment_id>/questionnaires/<int:dispatch_id>/done")
@role_required("patient")
def done(enrolment_id: int, dispatch_id: int):
    """Thanks; and where to get help at once if an answer hit a safety rule."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user)
    dispatch = _load_dispatch(enrolment, dispatch_id)
    if dispatch.submission is None:
        return redirect(url_for("questionnaires.answer", enrolment_id=enrolment.id, dispatch_id=dispatch.id))
    form = _form_or_404(dispatch.form_id)
    results = services.own_results(enrolment, form.id) if form.show_results else []
    return render_template("questionnaires/done.html", enrolment=enrolment, form=form, response=dispatch.submission,
                           results=results)


@bp.route("/clinician/questionnaires/export.csv")
@role_required("clinician")
def export():
    """Responses with scores for the clinician's own care units, as CSV (audit-logged)."""
    def day(name):
        try:
            value = parse_filter_day(request.args.get(name, ""))
        except ValueError:
            return None
        return value

    start, end = day("start"), day("end")
    rows = services.export_rows(unit_ids_subquery(current_user), request.args.get("form") or None,
                                day_start(start) if start else None, day_end(end) if end else None)
    # Written before the commit, which expires the rows: reading them after would cost a query per row.
    body = services.export_csv(rows)
    form_id = request.args.get("form")
    log_access(current_user, "questionnaires.export",
               detail=f"responses={len(rows)} form={form_id if form_id in get_catalogue().forms else 'all'}",
               patient_ids=[patient.id for _submission, _enrolment, patient in rows])
    db.session.commit()
    return Response(body, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=lotsa-questionnaires.csv"})


def score_chart(form, responses, locale: str) -> Markup:
    """Scores over time as an SVG line chart with the severity bands shaded."""
    points = [(r.submitted_at, r.total) for r in responses if r.total is not None]
    if not points or form.total is None:
        return Markup("")
    low, high = form.total.range or (0, max(p[1] for p in points))
    labels = [band.labels.get(locale) or next(iter(band.labels.values()), "") for band in form.total.bands]
    # The band names sit right of the plot: the gutter grows with the longest name,
    # so no name is cut off in any language (about 6.5 units a character at 11 px).
    gutter = max(36, int(max((len(label) for label in labels), default=0) * 6.5) + 12)
    plot_width, height, pad = 488, 220, 36
    width = pad + plot_width + gutter
    span = (high - low) or 1

    def y(value):
        return pad / 2 + (height - pad) * (1 - (value - low) / span)

    n = len(points)
    xs = [pad + plot_width * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
    shades = ["#e8f3ec", "#f7f3df", "#fbe9d7", "#f8dcd6", "#f2d0d0"]
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="'
             f'{escape(_("Scores over time for %(form)s", form=form.title(locale)))}">']
    for index, (band, label) in enumerate(zip(form.total.bands, labels, strict=True)):
        top, bottom = y(min(band.max + (1 if form.total.method == "sum" else 0), high)), y(band.min)
        parts.append(f'<rect x="{pad}" y="{top:.1f}" width="{plot_width}" height="{bottom - top:.1f}" '
                     f'fill="{shades[index % len(shades)]}"><title>{escape(label)}</title></rect>')
        parts.append(f'<text x="{pad + plot_width + 6}" y="{(top + bottom) / 2 + 4:.1f}" font-size="11" '
                     f'direction="ltr" text-anchor="start">{escape(label)}</text>')
    parts.append('<polyline fill="none" stroke="#0b5563" stroke-width="2" points="'
                 + " ".join(f"{x:.1f},{y(v):.1f}" for x, (_d, v) in zip(xs, points, strict=True)) + '"/>')
    for x, (when, value) in zip(xs, points, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y(value):.1f}" r="4" fill="#0b5563"/>')
        parts.append(f'<text x="{x:.1f}" y="{y(value) - 8:.1f}" font-size="12" text-anchor="middle">{value:g}</text>')
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" font-size="11" text-anchor="middle">'
                     f'{escape(format_date(when, "short"))}</text>')
    parts.append("</svg>")
    # Bandit B704: every text in the SVG is escaped above.
    return Markup("".join(parts))  # nosec B704


@bp.app_context_processor
def _helpers():
    return {"score_chart": score_chart, "now_utc": utcnow}
