"""enrolment.waiting_since follows its conversation whatever writes it (migration 0023's triggers).

The clinicians' count of waiting conversations reads the enrolment's copy, so
each way a conversation's waiting time changes (a patient writes, the team
answers or marks it handled, a raw update, the conversation deleted) is
checked against the copy and against the count itself.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, text, update

from tests.performance.test_query_bounds import _user
from webapp.auth.services import unit_ids_subquery
from webapp.core.db import utcnow
from webapp.messages import services
from webapp.messages.models import Conversation
from webapp.programme.models import Enrolment


def _copy(db, enrolment_id: int):
    db.session.expire_all()
    return db.session.scalar(select(Enrolment.waiting_since).where(Enrolment.id == enrolment_id))


def _count(db, clinician) -> int:
    return services.waiting_for_staff(clinician, unit_ids_subquery(clinician))


def test_the_copy_follows_every_write_of_the_conversation(app, db, make):
    unit = make.unit()
    clinician = _user(make, "clinician", units=[unit])
    patient = _user(make, "patient")
    enrolment = make.enrolment(patient, unit, clinician, started_at=utcnow() - timedelta(days=3))
    with app.test_request_context():
        services.post_as_patient(enrolment, patient, "Hej, jag har en fråga.")
        db.session.commit()
        written = db.session.get(Conversation, enrolment.id).waiting_since
        assert written is not None and _copy(db, enrolment.id) == written
        assert _count(db, clinician) == 1

        services.post_as_staff(db.session.get(Enrolment, enrolment.id), clinician, "Hej! Vi ringer i morgon.")
        db.session.commit()
        assert _copy(db, enrolment.id) is None and _count(db, clinician) == 0

        services.post_as_patient(db.session.get(Enrolment, enrolment.id), patient, "Tack.")
        db.session.commit()
        services.mark_handled(db.session.get(Enrolment, enrolment.id))
        db.session.commit()
        assert _copy(db, enrolment.id) is None

        earlier = utcnow() - timedelta(hours=5)
        db.session.execute(update(Conversation).where(Conversation.enrolment_id == enrolment.id)
                           .values(waiting_since=earlier))
        db.session.commit()
        assert _copy(db, enrolment.id) == earlier and _count(db, clinician) == 1

        # A change that leaves the waiting time alone does not touch the copy.
        db.session.execute(text("UPDATE enrolment SET waiting_since = NULL WHERE id = :id"), {"id": enrolment.id})
        db.session.execute(update(Conversation).where(Conversation.enrolment_id == enrolment.id)
                           .values(unread_for_staff=3))
        db.session.commit()
        assert _copy(db, enrolment.id) is None
        db.session.execute(update(Conversation).where(Conversation.enrolment_id == enrolment.id)
                           .values(waiting_since=earlier + timedelta(minutes=1)))
        db.session.commit()
        assert _copy(db, enrolment.id) == earlier + timedelta(minutes=1)

        db.session.execute(delete(Conversation).where(Conversation.enrolment_id == enrolment.id))
        db.session.commit()
        assert _copy(db, enrolment.id) is None and _count(db, clinician) == 0


def test_the_count_is_of_open_enrolments_in_the_clinicians_units(app, db, make):
    ours, theirs = make.unit(), make.unit()
    clinician = _user(make, "clinician", units=[ours])
    enrolments = [make.enrolment(_user(make, "patient"), unit, clinician, status=status)
                  for unit, status in ((ours, "active"), (ours, "maintenance"), (ours, "closed"), (theirs, "active"))]
    now = utcnow()
    db.session.add_all([Conversation(enrolment_id=e.id, waiting_since=now, unread_for_staff=1) for e in enrolments])
    db.session.commit()
    with app.test_request_context():
        assert _count(db, clinician) == 2
        assert all(_copy(db, e.id) == now for e in enrolments)
