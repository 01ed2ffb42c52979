"""Questionnaires: clinicians send them, patients answer them, results are followed."""

from __future__ import annotations

import json
from datetime import datetime, time

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp.auth.models import User
from webapp.auth.services import unit_ids_subquery, units_of
from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.dates import at_local, day_end, day_start, in_planning_range, local_today, parse_filter_day
from webapp.core.db import utcnow
from webapp.extensions import db
from webapp.programme.enrolments import add_event, load_enrolment_for_clinician, load_enrolment_for_patient
from webapp.programme.models import Enrolment
from webapp.questionnaires import services
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

PROBLEM_TEXT = {
    "required": lambda: _("Please answer this question."),
    "invalid": lambda: _("Choose one of the answers."),
    "too_long": lambda: _("The answer is too long (at most 2000 characters)."),
}


def _form_or_404(form_id: str):
    form = get_catalogue().forms.get(form_id)
    if form is None:
        abort(404)
    return form


def _day(value: str | None):
    """A yyyy-mm-dd date from a form field; None when empty; ValueError when not a date."""
    if not value:
        return None
    return datetime.strptime(value.strip(), "%Y-%m-%d").date()


def _dates(data, problems: dict) -> tuple[datetime | None, datetime | None]:
    """The send time (06:00 on that Swedish day) and the due time (the end of its day) from a form, checked."""
    send_at = due_at = None
    try:
        send_on = _day(data.get("send_on"))
    except ValueError:
        problems["send_on"] = _("Write the date as yyyy-mm-dd.")
        send_on = None
    try:
        due_on = _day(data.get("due_on"))
    except ValueError:
        problems["due_on"] = _("Write the date as yyyy-mm-dd.")
        due_on = None
    today = local_today()
    for name, day in (("send_on", send_on), ("due_on", due_on)):
        if day is not None and day > today and not in_planning_range(day, today):
            problems[name] = _("Choose a date within the next ten years.")
    if problems:
        return None, None
    if send_on is not None:
        if send_on < today:
            problems["send_on"] = _("Choose today or a later day.")
        elif send_on > today:
            send_at = at_local(send_on, time(6, 0))
    if due_on is not None:
        if due_on < max(today, send_on or today):
            problems["due_on"] = _("The last day to answer must be on or after the day it is sent.")
        else:
            due_at = day_end(due_on)
    return send_at, due_at


@bp.route("/clinician/enrolments/<int:enrolment_id>/questionnaires", methods=["POST"])
@role_required("clinician")
def send(enrolment_id: int):
    """Send a questionnaire to one patient, now or on a later day, with an optional last day to answer."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    back = url_for("clinician.enrolment", enrolment_id=enrolment.id) + "#questionnaires"
    form = get_catalogue().forms.get(request.form.get("form_id", ""))
    if form is None or not form.has_text or enrolment.status == "closed":
        flash(_("Choose a questionnaire that can be sent."), "error")
        return redirect(back)
    problems: dict[str, str] = {}
    send_at, due_at = _dates(request.form, problems)
    if problems:
        for message in problems.values():
            flash(message, "error")
        return redirect(back)
    services.send_round(form, enrolment.care_unit_id, current_user, [enrolment], send_at=send_at, due_at=due_at)
    db.session.commit()
    if send_at:
        flash(_("The questionnaire will be sent on %(date)s. The patient is told by e-mail then.",
                date=format_date(send_at, "long")), "success")
    else:
        flash(_("The questionnaire is sent. The patient has been told by e-mail."), "success")
    return redirect(back)


def _chosen_candidates():
    """The clinician's own active patients, for the "chosen patients" list."""
    return list(db.session.scalars(
        select(Enrolment).join(User, User.id == Enrolment.patient_id).options(joinedload(Enrolment.patient))
        .where(Enrolment.responsible_clinician_id == current_user.id,
               Enrolment.has_access)
        .order_by(User.full_name, Enrolment.id)))


@bp.route("/clinician/questionnaires", methods=["GET", "POST"])
@role_required("clinician")
def rounds():
    """Send a questionnaire to a recipient list, and follow every send: answered, waiting, overdue."""
    catalogue = get_catalogue()
    units = units_of(current_user)
    candidates = _chosen_candidates()
    values = request.form if request.method == "POST" else {}
    problems: dict[str, str] = {}
    if request.method == "POST":
        form = catalogue.forms.get(request.form.get("form_id", ""))
        if form is None or not form.has_text:
            problems["form_id"] = _("Choose a questionnaire that can be sent.")
        unit = next((u for u in units if str(u.id) == request.form.get("unit_id")), None)
        if unit is None:
            problems["unit_id"] = _("Choose one of your care units.")
        send_at, due_at = _dates(request.form, problems)
        to = request.form.get("to")
        enrolments, programme_id = [], None
        if to == "programme":
            programme_id = request.form.get("programme_id", "")
            if programme_id not in catalogue.programmes:
                problems["programme_id"] = _("Choose a programme.")
            elif unit is not None:
                enrolments = services.recipients(unit.id, programme_id=programme_id)
                if not enrolments:
                    problems["programme_id"] = _("No patient in this care unit is active in this programme.")
        elif to == "chosen":
            chosen = [int(v) for v in request.form.getlist("enrolment_id") if v.isdigit()]
            if not chosen:
                problems["enrolment_id"] = _("Choose at least one patient.")
            elif unit is not None:
                enrolments = services.recipients(unit.id, enrolment_ids=chosen)
                if len(enrolments) != len(set(chosen)):
                    problems["enrolment_id"] = _("Choose patients who are active in the chosen care unit.")
        else:
            problems["to"] = _("Choose who gets the questionnaire.")
        if not problems:
            round_ = services.send_round(form, unit.id, current_user, enrolments, programme_id=programme_id,
                                         send_at=send_at, due_at=due_at)
            db.session.commit()
            flash(ngettext("The questionnaire is sent to %(num)d patient.",
                           "The questionnaire is sent to %(num)d patients.", len(enrolments)), "success")
            return redirect(url_for("questionnaires.round_detail", round_id=round_.id))
    overview = services.rounds_overview(unit_ids_subquery(current_user))
    # The names in the "chosen patients" list are patient data on screen.
    log_access(current_user, "questionnaires.rounds", detail=f"{len(overview)} sends, {len(candidates)} patients listed")
    html = render_template("questionnaires/rounds.html", overview=overview, units=units, candidates=candidates,
                           forms=catalogue.forms, programmes=catalogue.programmes, values=values,
                           chosen={v for v in request.form.getlist("enrolment_id")} if values else set(),
                           problems=problems)
    db.session.commit()
    return html, 400 if problems else 200


@bp.route("/clinician/questionnaires/rounds/<int:round_id>")
@role_required("clinician")
def round_detail(round_id: int):
    """One send: each recipient answered, waiting or overdue, with their score and a reminder button."""
    round_ = db.session.scalar(select(Round).where(Round.id == round_id,
                                                   Round.care_unit_id.in_(unit_ids_subquery(current_user))))
    if round_ is None:
        abort(404)
    members = services.round_members(round_)
    log_access(current_user, "questionnaires.round", detail=f"round {round_.id}, {len(members)} patients")
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
    if dispatch.answered_at is None and enrolment.status != "closed" and dispatch.send_at <= utcnow():
        services.remind(dispatch, enrolment)
        db.session.commit()
        flash(_("A reminder is sent to the patient."), "success")
    if request.form.get("back") == "round" and dispatch.round_id:
        return redirect(url_for("questionnaires.round_detail", round_id=dispatch.round_id))
    return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id) + "#questionnaires")


@bp.route("/clinician/enrolments/<int:enrolment_id>/safety", methods=["POST"])
@role_required("clinician")
def acknowledge_safety(enrolment_id: int):
    """The clinician has acted on a safety answer: take the flag off the caseload."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    enrolment.safety_flag_at = None
    add_event(enrolment, current_user, "safety_acknowledged")
    db.session.commit()
    flash(_("The safety flag is removed."), "success")
    return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id))


def _load_dispatch(enrolment, dispatch_id: int, visible_only: bool = False) -> Dispatch:
    dispatch = db.session.get(Dispatch, dispatch_id)
    if dispatch is None or dispatch.enrolment_id != enrolment.id:
        abort(404)
    if visible_only and dispatch.send_at > utcnow():
        # Sent for a later day: the patient cannot see it yet.
        abort(404)
    return dispatch


@bp.route("/e/<int:enrolment_id>/questionnaires/<int:dispatch_id>", methods=["GET", "POST"])
@role_required("patient")
def answer(enrolment_id: int, dispatch_id: int):
    """Answer a questionnaire; answers can be saved on the way and nothing typed is lost."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user)
    dispatch = _load_dispatch(enrolment, dispatch_id, visible_only=True)
    if dispatch.answered_at is not None:
        return redirect(url_for("questionnaires.done", enrolment_id=enrolment.id, dispatch_id=dispatch.id))
    form = _form_or_404(dispatch.form_id)
    values = json.loads(dispatch.draft or "{}")
    problems: dict[str, str] = {}
    if request.method == "POST":
        raw = {item.id: request.form.get(item.id, "") for item in form.items}
        final = request.form.get("action") == "submit"
        values = {k: v for k, v in raw.items() if v}
        try:
            answers = services.clean_answers(form, raw, final=final)
        except services.AnswerProblems as exc:
            problems = exc.problems
            # Keep what fitted, so a reload still has it.
            partial = {k: v for k, v in raw.items() if v and k not in problems}
            dispatch.draft = json.dumps(partial)
            db.session.commit()
        else:
            if final:
                _response, result = services.submit(dispatch, enrolment, form, answers)
                db.session.commit()
                return redirect(url_for("questionnaires.done", enrolment_id=enrolment.id, dispatch_id=dispatch.id))
            dispatch.draft = json.dumps(answers)
            db.session.commit()
            flash(_("Your answers are saved. You can finish later."), "success")
            return redirect(url_for("questionnaires.answer", enrolment_id=enrolment.id, dispatch_id=dispatch.id))
    messages = {item_id: PROBLEM_TEXT[code]() for item_id, code in problems.items()}
    return render_template("questionnaires/answer.html", enrolment=enrolment, dispatch=dispatch, form=form,
                           values={k: str(v) for k, v in values.items()}, problems=messages,
                           locale=current_user.locale), 400 if problems else 200


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
    log_access(current_user, "questionnaires.export",
               detail=f"{len(rows)} responses, form {request.args.get('form') or 'all'}")
    db.session.commit()
    return Response(body, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=lotsa-questionnaires.csv"})


def score_chart(form, responses, locale: str) -> Markup:
    """Scores over time as an SVG line chart with the severity bands shaded."""
    points = [(r.submitted_at, r.total) for r in responses if r.total is not None]
    if not points or form.total is None:
        return Markup("")
    low, high = form.total.range or (0, max(p[1] for p in points))
    width, height, pad = 560, 220, 36
    span = (high - low) or 1

    def y(value):
        return pad / 2 + (height - pad) * (1 - (value - low) / span)

    n = len(points)
    xs = [pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
    shades = ["#e8f3ec", "#f7f3df", "#fbe9d7", "#f8dcd6", "#f2d0d0"]
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="'
             f'{escape(_("Scores over time for %(form)s", form=form.title(locale)))}">']
    for index, band in enumerate(form.total.bands):
        top, bottom = y(min(band.max + (1 if form.total.method == "sum" else 0), high)), y(band.min)
        label = band.labels.get(locale) or next(iter(band.labels.values()), "")
        parts.append(f'<rect x="{pad}" y="{top:.1f}" width="{width - 2 * pad}" height="{bottom - top:.1f}" '
                     f'fill="{shades[index % len(shades)]}"><title>{escape(label)}</title></rect>')
        parts.append(f'<text x="{width - pad + 4}" y="{(top + bottom) / 2 + 4:.1f}" font-size="11">{escape(label)}</text>')
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
