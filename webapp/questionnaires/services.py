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
from datetime import date, time

from sqlalchemy import and_, bindparam, case, func, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import User
from webapp.content.questionnaires import Band, Questionnaire
from webapp.content.services import get_catalogue
from webapp.core.dates import at_local, day_end, local_today
from webapp.core.db import utcnow
from webapp.core.queries import Bound
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.services import Kind, notify
from webapp.programme.enrolments import sender_of
from webapp.programme.models import Enrolment
from webapp.questionnaires.alerts import raise_alert
from webapp.questionnaires.models import Dispatch, Round, Submission
from webapp.questionnaires.scoring import score

# --- sending, answering, following up ------------------------------------------------------

REMINDER_EVERY_DAYS = 3
MAX_REMINDERS = 3
# A questionnaire sent for a later day goes out early that morning, Swedish time.
SEND_TIME = time(6, 0)


class RecipientsError(Exception):
    """A round's recipients cannot be used; ``code`` says why ("none_active" or "not_in_unit")."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


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
        notify(enrolment.patient, Kind.QUESTIONNAIRE_WAITING, {"url": external_url("auth.login"), **sender_of(enrolment)})
    return dispatch


def send_times(send_on: date | None, due_on: date | None, today: date | None = None):
    """When a send goes out and when answers are due, from Swedish days: (send_at, due_at) in UTC.

    A later day is sent at 06:00 that morning, today at once (None); the last
    day to answer lasts until its midnight.
    """
    today = today or local_today()
    send_at = at_local(send_on, SEND_TIME) if send_on is not None and send_on > today else None
    due_at = day_end(due_on) if due_on is not None else None
    return send_at, due_at


def chosen_candidates(clinician) -> list:
    """The clinician's own active patients, by name: whom they can choose for a round."""
    return list(db.session.scalars(
        select(Enrolment).join(User, User.id == Enrolment.patient_id).options(joinedload(Enrolment.patient))
        .where(Enrolment.responsible_clinician_id == clinician.id, Enrolment.has_access)
        .order_by(User.full_name, Enrolment.id)))


def round_recipients(unit_id: int, programme_id: str | None = None, enrolment_ids: list[int] | None = None) -> list:
    """The enrolments a round goes to; RecipientsError if nobody is active or a chosen one is not in the unit."""
    if programme_id is not None:
        found = recipients(unit_id, programme_id=programme_id)
        if not found:
            raise RecipientsError("none_active")
        return found
    found = recipients(unit_id, enrolment_ids=enrolment_ids or [])
    if len(found) != len(set(enrolment_ids or [])):
        raise RecipientsError("not_in_unit")
    return found


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
        """Recipients who have neither answered nor passed the last day."""
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


def draft_answers(dispatch) -> dict:
    """The answers saved on the way ({item id: value}), to fill the form in again."""
    return json.loads(dispatch.draft or "{}")


def save_draft(dispatch, answers: dict) -> None:
    """Keep the answers given so far; the patient finishes later."""
    dispatch.draft = json.dumps(answers)


def submit(dispatch, enrolment, form: Questionnaire, answers: dict):
    """Score and store the answers; a safety hit opens an alert for the care unit (see alerts.py)."""
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
        raise_alert(enrolment, response, now=response.submitted_at)
    return response, result


def _band_key(band: Band | None) -> str | None:
    """A band is stored by its English label (stable), shown translated from the form."""
    if band is None:
        return None
    return band.labels.get("en") or next(iter(band.labels.values()), f"{band.min}-{band.max}")


_WAITING = (select(Dispatch).where(Dispatch.enrolment_id.in_(bindparam("waiting_ids", expanding=True)),
                                   Dispatch.answered_at.is_(None), Dispatch.send_at <= bindparam("waiting_now"))
            .order_by(Dispatch.send_at, Dispatch.id))


def waiting_query(enrolment_ids: list[int]) -> Bound | None:
    """The query of ``waiting`` (None: no enrolments to ask about)."""
    if not enrolment_ids:
        return None
    return Bound(_WAITING, {"waiting_ids": list(enrolment_ids), "waiting_now": utcnow()})


def waiting(enrolment_ids: list[int]) -> dict[int, list]:
    """Unanswered dispatches per enrolment, oldest first."""
    result: dict[int, list] = {}
    query = waiting_query(enrolment_ids)
    if query is None:
        return result
    for dispatch in db.session.scalars(query.statement, query.params):
        result.setdefault(dispatch.enrolment_id, []).append(dispatch)
    return result


def history(enrolment) -> list:
    """Every dispatch of the enrolment with its response, newest first."""
    return list(db.session.scalars(select(Dispatch).options(joinedload(Dispatch.submission), joinedload(Dispatch.sent_by))
                                   .where(Dispatch.enrolment_id == enrolment.id)
                                   .order_by(Dispatch.created_at.desc())).unique())


def can_remind(dispatch, enrolment, now=None) -> bool:
    """Whether a reminder makes sense: sent, visible, unanswered, and the enrolment still open."""
    return dispatch.answered_at is None and enrolment.status != "closed" and dispatch.send_at <= (now or utcnow())


def remind(dispatch, enrolment, now=None) -> None:
    """Tell the patient (content-free) that a questionnaire still waits, and count it."""
    dispatch.reminders_sent += 1
    dispatch.last_reminded_at = now or utcnow()
    notify(enrolment.patient, Kind.QUESTIONNAIRE_REMINDER, {"url": external_url("auth.login"), **sender_of(enrolment)})


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
    """The export rows as CSV text, one response a line (the answers as JSON)."""
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


def send_register_forms(enrolment, at) -> int:
    """Send the programme's register instruments for the timepoints at ``at`` ("start", "end" or days), once each.

    A licensed instrument without its texts is not sent (the unit uses its licensed
    form), and a form the programme's own measures already sent at the same moment
    is not sent twice: its answer counts for the register too.
    """
    catalogue = get_catalogue()
    programme = catalogue.programmes.get(enrolment.programme_id)
    sent = 0
    for timepoint in programme.register if programme else []:
        if timepoint.at != at:
            continue
        for form_id in timepoint.forms:
            form = catalogue.forms.get(form_id)
            if form is None or not form.has_text:
                continue
            already = db.session.scalar(select(Dispatch.id).where(
                Dispatch.enrolment_id == enrolment.id, Dispatch.form_id == form_id,
                Dispatch.purpose.in_([timepoint.purpose, timepoint.measure_purpose])))
            if already is None:
                send(enrolment, form, None, purpose=timepoint.purpose)
                sent += 1
    return sent
