"""Questionnaires: clinicians send them, patients answer them, results are followed."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from webapp.clinician.services import load_enrolment_for_clinician
from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.db import utcnow
from webapp.extensions import db
from webapp.programme.services import load_enrolment_for_patient
from webapp.questionnaires import services
from webapp.questionnaires.models import Dispatch

bp = Blueprint("questionnaires", __name__, template_folder="templates")

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


@bp.route("/clinician/enrolments/<int:enrolment_id>/questionnaires", methods=["POST"])
@role_required("clinician")
def send(enrolment_id: int):
    """Send a questionnaire to the patient now, with an optional last day to answer."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    form = get_catalogue().forms.get(request.form.get("form_id", ""))
    if form is None or not form.has_text or enrolment.status == "closed":
        flash(_("Choose a questionnaire that can be sent."), "error")
        return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id))
    due_at = None
    if request.form.get("due_on"):
        try:
            due = datetime.strptime(request.form["due_on"], "%Y-%m-%d").date()
        except ValueError:
            flash(_("Choose a date."), "error")
            return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id))
        due_at = datetime.combine(due, time(23, 59), tzinfo=timezone.utc)
    services.send(enrolment, form, current_user, due_at)
    db.session.commit()
    flash(_("The questionnaire is sent. The patient has been told by e-mail."), "success")
    return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id) + "#questionnaires")


@bp.route("/clinician/enrolments/<int:enrolment_id>/questionnaires/<int:dispatch_id>/remind", methods=["POST"])
@role_required("clinician")
def remind_now(enrolment_id: int, dispatch_id: int):
    """Remind the patient of an unanswered questionnaire now."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    dispatch = _load_dispatch(enrolment, dispatch_id)
    if dispatch.answered_at is None and enrolment.status != "closed":
        services.remind(dispatch, enrolment)
        db.session.commit()
        flash(_("A reminder is sent to the patient."), "success")
    return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id) + "#questionnaires")


@bp.route("/clinician/enrolments/<int:enrolment_id>/safety", methods=["POST"])
@role_required("clinician")
def acknowledge_safety(enrolment_id: int):
    """The clinician has acted on a safety answer: take the flag off the caseload."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    enrolment.safety_flag_at = None
    from webapp.clinician.services import add_event

    add_event(enrolment, current_user, "safety_acknowledged")
    db.session.commit()
    flash(_("The safety flag is removed."), "success")
    return redirect(url_for("clinician.enrolment", enrolment_id=enrolment.id))


def _load_dispatch(enrolment, dispatch_id: int) -> Dispatch:
    dispatch = db.session.get(Dispatch, dispatch_id)
    if dispatch is None or dispatch.enrolment_id != enrolment.id:
        abort(404)
    return dispatch


@bp.route("/e/<int:enrolment_id>/questionnaires/<int:dispatch_id>", methods=["GET", "POST"])
@role_required("patient")
def answer(enrolment_id: int, dispatch_id: int):
    """Answer a questionnaire; answers can be saved on the way and nothing typed is lost."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user)
    dispatch = _load_dispatch(enrolment, dispatch_id)
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
    if dispatch.response is None:
        return redirect(url_for("questionnaires.answer", enrolment_id=enrolment.id, dispatch_id=dispatch.id))
    form = _form_or_404(dispatch.form_id)
    return render_template("questionnaires/done.html", enrolment=enrolment, form=form, response=dispatch.response)


@bp.route("/clinician/questionnaires/export.csv")
@role_required("clinician")
def export():
    """Responses with scores for the clinician's own care units, as CSV (audit-logged)."""
    from flask import Response as HttpResponse

    from webapp.clinician.services import unit_ids_subquery
    from webapp.core.audit import log_access

    def day(name):
        try:
            value = datetime.strptime(request.args.get(name, ""), "%Y-%m-%d")
        except ValueError:
            return None
        return value.replace(tzinfo=timezone.utc)

    start, end = day("start"), day("end")
    rows = services.export_rows(unit_ids_subquery(current_user), request.args.get("form") or None, start,
                                end + timedelta(days=1) if end else None)
    log_access(current_user, "questionnaires.export",
               detail=f"{len(rows)} responses, form {request.args.get('form') or 'all'}")
    db.session.commit()
    return HttpResponse(services.export_csv(rows), mimetype="text/csv",
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
                 + " ".join(f"{x:.1f},{y(v):.1f}" for x, (_d, v) in zip(xs, points)) + '"/>')
    for x, (when, value) in zip(xs, points):
        parts.append(f'<circle cx="{x:.1f}" cy="{y(value):.1f}" r="4" fill="#0b5563"/>')
        parts.append(f'<text x="{x:.1f}" y="{y(value) - 8:.1f}" font-size="12" text-anchor="middle">{value:g}</text>')
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" font-size="11" text-anchor="middle">'
                     f'{escape(format_date(when, "short"))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


@bp.app_context_processor
def _helpers():
    return {"score_chart": score_chart, "now_utc": utcnow}
