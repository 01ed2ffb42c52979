"""The pain school's safety net: PHQ-9 (with its item-9 safety rule) at the start and in week 4–5."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from webapp.content.services import get_catalogue
from webapp.core.db import utcnow
from webapp.questionnaires.jobs import send_day_measures
from webapp.questionnaires.models import Dispatch
from webapp.questionnaires.services import send_programme_measures


def test_the_pain_school_measures_phq9_at_the_start_and_in_week_4_to_5(app):
    measures = get_catalogue().programmes["pain-school"].measures
    days = [at for form, at in measures if form == "phq-9" and isinstance(at, int)]
    assert ("phq-9", "start") in measures
    assert len(days) == 1 and 21 <= days[0] <= 34  # week 4 starts on day 21, week 5 ends on day 34
    assert get_catalogue().forms["phq-9"].safety  # the item-9 rule that alerts the clinician


def test_phq9_goes_out_when_access_starts(app, make, db):
    enrolment = make.enrolment(make.user("patient"), make.unit())
    send_programme_measures(enrolment, "start")
    db.session.commit()
    sent = db.session.scalars(select(Dispatch.form_id).where(Dispatch.enrolment_id == enrolment.id,
                                                             Dispatch.purpose == "before")).all()
    assert "phq-9" in sent
    assert send_programme_measures(enrolment, "start") == 0  # once


def test_phq9_goes_out_again_in_week_5_once(app, make, db):
    day = get_catalogue().programmes["pain-school"].measures
    at = next(at for form, at in day if form == "phq-9" and isinstance(at, int))
    unit = make.unit()
    not_yet = make.enrolment(make.user("patient"), unit, started_at=utcnow() - timedelta(days=at - 1))
    due = make.enrolment(make.user("patient"), unit, started_at=utcnow() - timedelta(days=at, minutes=1))
    act = make.enrolment(make.user("patient"), unit, programme="act-long-term-pain",
                         started_at=utcnow() - timedelta(days=at, minutes=1))
    assert send_day_measures() == 1
    db.session.commit()
    dispatch = db.session.scalars(select(Dispatch)).one()
    assert (dispatch.enrolment_id, dispatch.form_id, dispatch.purpose) == (due.id, "phq-9", f"day-{at}")
    assert send_day_measures() == 0
    assert {not_yet.id, act.id}.isdisjoint({dispatch.enrolment_id})
