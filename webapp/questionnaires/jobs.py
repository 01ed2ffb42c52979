"""The scheduler's questionnaire sweeps: releases, reminders, day-N measures, safety escalation.

Run by the scheduler process, never by a web worker. Each sweep marks what it
did on the dispatch (or its absence is the condition), so a second run or a
second scheduler tells nobody twice.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import joinedload

from webapp.content.services import get_catalogue
from webapp.core.db import utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.services import Kind, notify
from webapp.programme.enrolments import sender_of
from webapp.programme.models import Enrolment
from webapp.questionnaires.alerts import escalate
from webapp.questionnaires.models import Dispatch, SafetyAlert
from webapp.questionnaires.services import MAX_REMINDERS, REMINDER_EVERY_DAYS, remind, send, send_register_forms

# Scheduler sweeps commit every BATCH_SIZE rows: a round sent to thousands of
# patients must not keep their questionnaires locked (and, on SQLite, the whole
# database) for the length of the sweep while those patients answer.
BATCH_SIZE = 500


def _in_batches(query, handle) -> int:
    """Run ``query`` (which must stop matching handled rows) batch by batch, committing each; count rows."""
    done = 0
    while True:
        rows = db.session.execute(query.limit(BATCH_SIZE)).unique().all()
        for row in rows:
            handle(*row)
        db.session.commit()
        done += len(rows)
        if len(rows) < BATCH_SIZE:
            return done


def release_scheduled(now=None) -> int:
    """Tell patients about questionnaires whose send date has come (each exactly once)."""
    now = now or utcnow()

    def release(dispatch, enrolment):
        dispatch.notified_at = now
        notify(enrolment.patient, Kind.QUESTIONNAIRE_WAITING, {"url": external_url("auth.login"), **sender_of(enrolment)})

    return _in_batches(
        select(Dispatch, Enrolment).join(Enrolment, Enrolment.id == Dispatch.enrolment_id)
        .options(joinedload(Enrolment.patient))
        .where(Dispatch.notified_at.is_(None), Dispatch.send_at <= now, Dispatch.answered_at.is_(None),
               Enrolment.is_open)
        .order_by(Dispatch.id).with_for_update(of=Dispatch, skip_locked=True), release)


def remind_unanswered(now=None) -> int:
    """Remind patients of unanswered questionnaires every few days, a few times at most.

    Answered questionnaires and closed enrolments are never reminded about.
    """
    now = now or utcnow()
    every = timedelta(days=REMINDER_EVERY_DAYS)
    return _in_batches(
        select(Dispatch, Enrolment).join(Enrolment, Enrolment.id == Dispatch.enrolment_id)
        .options(joinedload(Enrolment.patient))
        .where(Dispatch.answered_at.is_(None), Dispatch.reminders_sent < MAX_REMINDERS,
               Dispatch.notified_at.is_not(None),
               Enrolment.has_access,
               Dispatch.send_at <= now - every,
               or_(Dispatch.last_reminded_at.is_(None), Dispatch.last_reminded_at <= now - every))
        .order_by(Dispatch.id).with_for_update(of=Dispatch, skip_locked=True),
        lambda dispatch, enrolment: remind(dispatch, enrolment, now))


# A day-N measure still goes out this many days late (scheduler down, measure added
# to the programme later); older enrolments are not measured after the fact.
DAY_MEASURE_GRACE_DAYS = 30


def send_day_measures(now=None) -> int:
    """Send the programmes' "N days after the start" measures that have fallen due (once each)."""
    now = now or utcnow()
    catalogue = get_catalogue()
    sent = 0
    for programme in catalogue.programmes.values():
        for form_id, at in programme.measures:
            form = catalogue.forms.get(form_id)
            if not isinstance(at, int) or form is None or not form.has_text:
                continue
            purpose = f"day-{at}"
            already = exists().where(Dispatch.enrolment_id == Enrolment.id, Dispatch.form_id == form_id,
                                     Dispatch.purpose == purpose)
            due = db.session.scalars(
                select(Enrolment).options(joinedload(Enrolment.patient))
                .where(Enrolment.programme_id == programme.id,
                       Enrolment.has_access,
                       Enrolment.started_at <= now - timedelta(days=at),
                       Enrolment.started_at > now - timedelta(days=at + DAY_MEASURE_GRACE_DAYS), ~already)
                .with_for_update(of=Enrolment, skip_locked=True)).unique().all()
            for enrolment in due:
                send(enrolment, form, None, purpose=purpose)
                sent += 1
    return sent


def send_register_timepoints(now=None) -> int:
    """Send the register's "N days after the start" instruments that have fallen due (once each).

    The same grace as for day-N measures: an enrolment far past the timepoint is
    not measured after the fact.
    """
    now = now or utcnow()
    sent = 0
    for programme in get_catalogue().programmes.values():
        for timepoint in programme.register:
            if not isinstance(timepoint.at, int):
                continue
            answered_or_sent = exists().where(Dispatch.enrolment_id == Enrolment.id,
                                              Dispatch.purpose == timepoint.purpose)
            due = db.session.scalars(
                select(Enrolment).options(joinedload(Enrolment.patient))
                .where(Enrolment.programme_id == programme.id, Enrolment.has_access,
                       Enrolment.started_at <= now - timedelta(days=timepoint.at),
                       Enrolment.started_at > now - timedelta(days=timepoint.at + DAY_MEASURE_GRACE_DAYS),
                       ~answered_or_sent)
                .with_for_update(of=Enrolment, skip_locked=True)).unique().all()
            for enrolment in due:
                sent += send_register_forms(enrolment, timepoint.at)
    return sent


def escalate_safety_alerts(now=None) -> int:
    """Tell the care unit's opted-in clinicians about safety alerts nobody acknowledged in time (once each).

    ``escalate_at`` was set when the alert was made (working hours later);
    ``escalated_at`` marks it done, so a second run or scheduler tells nobody twice.
    Returns the number of alerts escalated.
    """
    now = now or utcnow()
    return _in_batches(
        select(SafetyAlert, Enrolment).join(Enrolment, Enrolment.id == SafetyAlert.enrolment_id)
        .where(SafetyAlert.acknowledged_at.is_(None), SafetyAlert.escalated_at.is_(None),
               SafetyAlert.escalate_at <= now)
        .order_by(SafetyAlert.id).with_for_update(of=SafetyAlert, skip_locked=True),
        lambda alert, enrolment: escalate(alert, enrolment, now))
