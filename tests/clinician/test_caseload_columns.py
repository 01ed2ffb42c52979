"""The caseload's denormalised times stay equal to their definition (migration 0022's triggers),
pages follow each other in the triage order, and the open-alert count counts the units' alerts only."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update

from tests.fixtures.plugin import Auth
from webapp.clinician.services import PAGE_SIZE, CaseloadFilters, caseload
from webapp.core.db import utcnow
from webapp.messages.models import Message
from webapp.programme.models import Answer, Enrolment, ModuleProgress
from webapp.questionnaires.models import SafetyAlert


def _defined(db, enrolment_id):
    """work_at and staff_message_at as the caseload defines them, from the rows themselves."""
    answered = db.session.scalar(select(func.max(Answer.updated_at)).where(Answer.enrolment_id == enrolment_id))
    finished = db.session.scalar(select(func.max(ModuleProgress.completed_at))
                                 .where(ModuleProgress.enrolment_id == enrolment_id))
    staff = db.session.scalar(select(func.max(Message.created_at))
                              .where(Message.enrolment_id == enrolment_id, Message.side == "staff"))
    work = max((t for t in (answered, finished) if t is not None), default=None)
    return work, staff


def _stored(db, enrolment_id):
    db.session.expire_all()
    enrolment = db.session.get(Enrolment, enrolment_id)
    return enrolment.work_at, enrolment.staff_message_at


def test_the_triggers_keep_both_times_through_inserts_updates_and_deletes(app, db, make):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    e = make.enrolment(make.user("patient"), unit, clinician)
    other = make.enrolment(make.user("patient"), unit, clinician)
    now = utcnow()
    assert _stored(db, e.id) == (None, None)

    steps = [
        # ORM insert of an answer, then a later save of it.
        lambda: db.session.add(Answer(enrolment_id=e.id, module_id="m1", block_id="b1", kind="reflection", text="x",
                                      updated_at=now - timedelta(days=5))),
        lambda: db.session.execute(update(Answer).where(Answer.enrolment_id == e.id)
                                   .values(updated_at=now - timedelta(days=4))),
        # A module finished after it: the later of the two counts.
        lambda: db.session.add(ModuleProgress(enrolment_id=e.id, module_id="m1",
                                              completed_at=now - timedelta(days=2))),
        # Progress without a finish changes nothing.
        lambda: db.session.add(ModuleProgress(enrolment_id=e.id, module_id="m2")),
        # Core inserts (bulk) count too; a patient's message is not the care team's.
        lambda: db.session.execute(insert(Message), [
            {"enrolment_id": e.id, "author_id": clinician.id, "side": "staff", "body": "Hej",
             "created_at": now - timedelta(days=3)},
            {"enrolment_id": e.id, "author_id": e.patient_id, "side": "patient", "body": "Hej",
             "created_at": now - timedelta(days=1)}]),
        # A time moved back is followed too (a recomputation, not a running maximum).
        lambda: db.session.execute(update(ModuleProgress).where(ModuleProgress.enrolment_id == e.id)
                                   .values(completed_at=None)),
        # A row moved to another enrolment leaves the first and reaches the second.
        lambda: db.session.execute(update(Message).where(Message.enrolment_id == e.id, Message.side == "staff")
                                   .values(enrolment_id=other.id)),
        lambda: db.session.execute(delete(Answer).where(Answer.enrolment_id == e.id)),
    ]
    for number, step in enumerate(steps):
        step()
        db.session.flush()
        for enrolment_id in (e.id, other.id):
            assert _stored(db, enrolment_id) == _defined(db, enrolment_id), f"after step {number}"
    db.session.commit()
    assert _stored(db, e.id) == (None, None)
    assert _stored(db, other.id)[1] == now - timedelta(days=3)


def test_a_page_view_does_not_write_the_enrolment_row(app, db, make):
    """Reading (pages seen, reading time) changes no time the caseload keeps: the trigger stays still.

    The stored time is first set wrong on purpose: a trigger that fired would put it right.
    """
    unit = make.unit()
    e = make.enrolment(make.user("patient"), unit, make.user("clinician", units=[unit]))
    db.session.add(ModuleProgress(enrolment_id=e.id, module_id="m1"))
    db.session.commit()
    marker = utcnow() - timedelta(days=999)
    db.session.execute(update(Enrolment).where(Enrolment.id == e.id).values(work_at=marker))
    db.session.execute(update(ModuleProgress).where(ModuleProgress.enrolment_id == e.id)
                       .values(pages_seen_mask=3, seconds_spent=40, last_page=2))
    db.session.commit()
    assert _stored(db, e.id)[0] == marker
    # Finishing the module is work: now it is recomputed.
    db.session.execute(update(ModuleProgress).where(ModuleProgress.enrolment_id == e.id)
                       .values(completed_at=utcnow()))
    db.session.commit()
    assert _stored(db, e.id) == _defined(db, e.id)


def test_pages_follow_each_other_in_triage_order(app, db, make):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    now = utcnow()
    for n in range(PAGE_SIZE + 7):
        e = make.enrolment(make.user("patient", name=f"P{n:03d}"), unit, clinician,
                           started_at=now - timedelta(days=n % 9), last_active_at=now)
        if n % 3 == 0:
            db.session.add(Answer(enrolment_id=e.id, module_id="m1", block_id="b1", kind="reflection", text="x",
                                  updated_at=now))
    db.session.commit()
    first, total = caseload(clinician, CaseloadFilters())
    second, _total = caseload(clinician, CaseloadFilters(page=2))
    assert total == PAGE_SIZE + 7 and len(first) == PAGE_SIZE and len(second) == 7
    ids = [r.enrolment.id for r in first + second]
    assert len(set(ids)) == total
    ranks = [(0 if "feedback" in r.flags else 1, -(r.enrolment.started_at.timestamp()), -r.enrolment.id)
             for r in first + second]
    assert ranks == sorted(ranks)


def test_the_open_alert_count_is_of_the_units_alerts(app, db, make, client):
    unit, elsewhere = make.unit(), make.unit()
    clinician = make.user("clinician", units=[unit])
    mine = make.enrolment(make.user("patient"), unit, clinician)
    theirs = make.enrolment(make.user("patient"), elsewhere, make.user("clinician", units=[elsewhere]))
    now = utcnow()
    db.session.add_all([SafetyAlert(enrolment_id=mine.id, escalate_at=now, note=""),
                        SafetyAlert(enrolment_id=theirs.id, escalate_at=now, note=""),
                        SafetyAlert(enrolment_id=mine.id, escalate_at=now, note="", acknowledged_at=now)])
    db.session.commit()
    Auth(client, db).login(clinician)
    html = client.get("/clinician/").get_data(as_text=True)
    assert "Säkerhetslarm: 1 inte kvitterat" in html
