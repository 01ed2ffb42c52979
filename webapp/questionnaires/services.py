"""Questionnaires in care: sending, rounds, answering, following up and export.

The definitions are content (``webapp.content.questionnaires``) and scoring is
pure (``webapp.questionnaires.scoring``); the scheduler's sweeps are in
``jobs.py``. Views own the commit.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import User
from webapp.content.questionnaires import Band, Questionnaire
from webapp.content.services import get_catalogue
from webapp.core.db import utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.services import Kind, notify
from webapp.programme.models import Enrolment
from webapp.questionnaires.models import Dispatch, Round, Submission
from webapp.questionnaires.scoring import item_value, score

# --- sending, answering, following up ------------------------------------------------------

REMINDER_EVERY_DAYS = 3
MAX_REMINDERS = 3


class AnswerProblems(Exception):
    """The submitted answers have problems: {item id: code}."""
    def __init__(self, problems: dict[str, str]):
        super().__init__("answers")
        self.problems = problems


def send(enrolment, form: Questionnaire, sender, due_at=None, purpose: str = "manual", send_at=None, round_=None):
    """Send a questionnaire to a patient; they are told (content-free) when it becomes visible.

    With ``send_at`` in the future the patient neither sees it nor hears of it
    until then; :func:`release_scheduled` tells them on the day.
    """
    if not form.has_text:
        raise ValueError("a licence-required questionnaire without its texts cannot be sent")
    now = utcnow()
    send_at = send_at or now
    dispatch = Dispatch(enrolment_id=enrolment.id, form_id=form.id, sent_by_id=sender.id if sender else None,
                        created_at=now, send_at=send_at, due_at=due_at, draft="{}", reminders_sent=0,
                        purpose=purpose, round=round_)
    db.session.add(dispatch)
    if send_at <= now:
        dispatch.notified_at = now
        notify(enrolment.patient, Kind.QUESTIONNAIRE_WAITING, {"url": external_url("auth.login")})
    return dispatch


def recipients(unit_id: int, programme_id: str | None = None, enrolment_ids: list[int] | None = None) -> list:
    """Active enrolments in one care unit: all of a programme, or the chosen ones."""
    query = (select(Enrolment).options(joinedload(Enrolment.patient))
             .where(Enrolment.care_unit_id == unit_id,
                    Enrolment.has_access)
             .order_by(Enrolment.id))
    if programme_id is not None:
        query = query.where(Enrolment.programme_id == programme_id)
    if enrolment_ids is not None:
        query = query.where(Enrolment.id.in_(enrolment_ids))
    return list(db.session.scalars(query))


def send_round(form: Questionnaire, unit_id: int, sender, enrolments: list, programme_id: str | None = None,
               send_at=None, due_at=None) -> Round:
    """Send one questionnaire to a list of patients, grouped so it can be followed as one."""
    round_ = Round(form_id=form.id, care_unit_id=unit_id, programme_id=programme_id, sent_by_id=sender.id,
                   created_at=utcnow(), send_at=send_at or utcnow(), due_at=due_at)
    db.session.add(round_)
    for enrolment in enrolments:
        send(enrolment, form, sender, due_at=due_at, send_at=send_at, round_=round_)
    return round_


@dataclass(frozen=True)
class RoundStatus:
    round: Round
    recipients: int
    answered: int
    overdue: int

    @property
    def waiting(self) -> int:
        return self.recipients - self.answered - self.overdue


def rounds_overview(unit_ids_query, now=None, limit: int = 50) -> list[RoundStatus]:
    """The latest rounds in the given units with answered / waiting / overdue counts (two queries)."""
    now = now or utcnow()
    rounds = list(db.session.scalars(select(Round).options(joinedload(Round.sent_by))
                                     .where(Round.care_unit_id.in_(unit_ids_query))
                                     .order_by(Round.created_at.desc(), Round.id.desc()).limit(limit)))
    if not rounds:
        return []
    answered = Dispatch.answered_at.is_not(None)
    overdue = and_(Dispatch.answered_at.is_(None), Dispatch.due_at.is_not(None), Dispatch.due_at < now)
    counts = {row.round_id: row for row in db.session.execute(
        select(Dispatch.round_id, func.count().label("n"),
               func.sum(case((answered, 1), else_=0)).label("answered"),
               func.sum(case((overdue, 1), else_=0)).label("overdue"))
        .where(Dispatch.round_id.in_([r.id for r in rounds])).group_by(Dispatch.round_id))}
    return [RoundStatus(r, counts[r.id].n if r.id in counts else 0,
                        int(counts[r.id].answered or 0) if r.id in counts else 0,
                        int(counts[r.id].overdue or 0) if r.id in counts else 0) for r in rounds]


def round_members(round_: Round) -> list:
    """Each recipient of a round: (dispatch, enrolment, patient), by name."""
    return [tuple(row) for row in db.session.execute(
        select(Dispatch, Enrolment, User).join(Enrolment, Enrolment.id == Dispatch.enrolment_id)
        .join(User, User.id == Enrolment.patient_id).options(joinedload(Dispatch.submission))
        .where(Dispatch.round_id == round_.id).order_by(User.full_name, Dispatch.id))]


def clean_answers(form: Questionnaire, raw: dict[str, str], final: bool) -> dict:
    """Keep the answers that fit their item; on ``final`` every required item must be there."""
    answers, problems = {}, {}
    for item in form.items:
        if item.type == "info":
            continue
        value = (raw.get(item.id) or "").strip()
        if item.type == "text":
            if len(value) > 2000:
                problems[item.id] = "too_long"
            elif value:
                answers[item.id] = value
        elif value:
            if item_value(item, value) is None:
                problems[item.id] = "invalid"
            else:
                answers[item.id] = int(value)
        if final and item.required and item.id not in answers and item.id not in problems:
            problems[item.id] = "required"
    if problems:
        raise AnswerProblems(problems)
    return answers


def submit(dispatch, enrolment, form: Questionnaire, answers: dict):
    """Score and store the answers; a safety hit flags the enrolment and tells the clinician."""
    result = score(form, answers)
    response = Submission(
        dispatch_id=dispatch.id, enrolment_id=enrolment.id, form_id=form.id, answers=json.dumps(answers),
        total=result.total, band=_band_key(result.band),
        subscales=json.dumps({k: v[0] for k, v in result.subscales.items()}), safety_hit=bool(result.safety_hits),
        submitted_at=utcnow(),
    )
    db.session.add(response)
    dispatch.answered_at = response.submitted_at
    dispatch.draft = "{}"
    if result.safety_hits:
        enrolment.safety_flag_at = response.submitted_at
        if enrolment.responsible_clinician is not None:
            notify(enrolment.responsible_clinician, Kind.SAFETY_FLAG,
                   {"url": external_url("clinician.enrolment", enrolment_id=enrolment.id)})
    return response, result


def _band_key(band: Band | None) -> str | None:
    """A band is stored by its English label (stable), shown translated from the form."""
    if band is None:
        return None
    return band.labels.get("en") or next(iter(band.labels.values()), f"{band.min}-{band.max}")


def waiting(enrolment_ids: list[int]) -> dict[int, list]:
    """Unanswered dispatches per enrolment, oldest first."""
    result: dict[int, list] = {}
    if not enrolment_ids:
        return result
    for dispatch in db.session.scalars(select(Dispatch).where(
            Dispatch.enrolment_id.in_(enrolment_ids), Dispatch.answered_at.is_(None), Dispatch.send_at <= utcnow())
            .order_by(Dispatch.send_at, Dispatch.id)):
        result.setdefault(dispatch.enrolment_id, []).append(dispatch)
    return result


def history(enrolment) -> list:
    """Every dispatch of the enrolment with its response, newest first."""
    return list(db.session.scalars(select(Dispatch).options(joinedload(Dispatch.submission), joinedload(Dispatch.sent_by))
                                   .where(Dispatch.enrolment_id == enrolment.id)
                                   .order_by(Dispatch.created_at.desc())).unique())


def remind(dispatch, enrolment, now=None) -> None:
    """Tell the patient (content-free) that a questionnaire still waits, and count it."""
    dispatch.reminders_sent += 1
    dispatch.last_reminded_at = now or utcnow()
    notify(enrolment.patient, Kind.QUESTIONNAIRE_REMINDER, {"url": external_url("auth.login")})


def export_rows(unit_ids_query, form_id: str | None, start=None, end=None) -> list:
    """Responses with scores in the given care units (newest first) for CSV export."""
    query = (select(Submission, Enrolment, User).join(Enrolment, Enrolment.id == Submission.enrolment_id)
             .join(User, User.id == Enrolment.patient_id)
             .where(Enrolment.care_unit_id.in_(unit_ids_query)).order_by(Submission.submitted_at.desc()))
    if form_id:
        query = query.where(Submission.form_id == form_id)
    if start:
        query = query.where(Submission.submitted_at >= start)
    if end:
        query = query.where(Submission.submitted_at < end)
    return [tuple(row) for row in db.session.execute(query)]


def export_csv(rows) -> str:

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["submitted_utc", "form", "personal_number", "enrolment_id", "programme", "total", "band",
                     "subscales", "safety_hit", "answers"])
    for response, enrolment, patient in rows:
        writer.writerow([response.submitted_at.isoformat(), response.form_id, patient.personal_number or "",
                         enrolment.id, enrolment.programme_id, "" if response.total is None else f"{response.total:g}",
                         response.band or "", response.subscales, int(response.safety_hit), response.answers])
    return out.getvalue()


def own_results(enrolment, form_id: str) -> list:
    """The patient's answered responses to one questionnaire in this enrolment, oldest first."""
    return list(db.session.scalars(select(Submission).where(
        Submission.enrolment_id == enrolment.id, Submission.form_id == form_id).order_by(Submission.submitted_at)))


def send_programme_measures(enrolment, moment: str) -> int:
    """Send the programme's automatic measures for ``moment`` ("start" or "end"), once each."""
    catalogue = get_catalogue()
    programme = catalogue.programmes.get(enrolment.programme_id)
    purpose = "before" if moment == "start" else "after"
    sent = 0
    for form_id, at in programme.measures if programme else []:
        form = catalogue.forms.get(form_id)
        if at != moment or form is None or not form.has_text:
            continue
        already = db.session.scalar(select(Dispatch.id).where(
            Dispatch.enrolment_id == enrolment.id, Dispatch.form_id == form_id, Dispatch.purpose == purpose))
        if already is None:
            send(enrolment, form, None, purpose=purpose)
            sent += 1
    return sent
