"""The caseload page as read from plain rows: every patient shown is in the access log,
the links are url_for's, and the rows say what the enrolment says."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import url_for
from sqlalchemy import select

from tests.fixtures.plugin import Auth
from webapp.clinician.services import PAGE_SIZE, CaseloadFilters, caseload
from webapp.core.audit import AccessLogEntry
from webapp.core.db import utcnow
from webapp.messages.models import Conversation


def _logged(db):
    entry = db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "caseload.view")
                               .order_by(AccessLogEntry.id.desc()).limit(1)).one()
    return {int(n) for n in entry.patient_ids.strip(",").split(",")}


def test_every_patient_on_each_page_is_in_its_access_log_row(app, db, make, client):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    now = utcnow()
    enrolments = [make.enrolment(make.user("patient", name=f"Patient {n:02d}"), unit, clinician if n % 2 else None,
                                 started_at=now - timedelta(days=n), last_active_at=now - timedelta(hours=n))
                  for n in range(PAGE_SIZE + 5)]
    db.session.add(Conversation(enrolment_id=enrolments[3].id, unread_for_staff=1, unread_for_patient=0))
    db.session.commit()
    Auth(client, db).login(clinician)
    shown = set()
    for page in (1, 2):
        html = client.get(f"/clinician/?page={page}").get_data(as_text=True)
        on_page = {int(n) for n in re.findall(r'href="/clinician/enrolments/(\d+)"', html)}
        patients = {e.patient_id for e in enrolments if e.id in on_page}
        assert len(on_page) == (PAGE_SIZE if page == 1 else 5)
        assert _logged(db) == patients
        shown |= patients
    assert shown == {e.patient_id for e in enrolments}
    with app.test_request_context():
        assert f'href="{url_for("messages.staff_thread", enrolment_id=enrolments[3].id)}"' in \
            client.get("/clinician/?page=1").get_data(as_text=True)


def test_rows_carry_the_enrolment_and_its_people(app, db, make):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Doktor Ek")
    now = utcnow()
    with_clinician = make.enrolment(make.user("patient", name="Ada"), unit, clinician,
                                    started_at=now - timedelta(days=400), recommended_days=365)
    without = make.enrolment(make.user("patient", name="Bo"), unit, None, status="invited", started_at=None)
    rows, total = caseload(clinician, CaseloadFilters(sort="name"))
    assert total == 2
    first, second = (r.enrolment for r in rows)
    assert (first.id, first.patient_id, first.patient.full_name, first.responsible_clinician.full_name) == \
        (with_clinician.id, with_clinician.patient_id, "Ada", "Doktor Ek")
    assert first.patient.personal_number == with_clinician.patient.personal_number
    assert first.days_elapsed(now) == with_clinician.days_elapsed(now) == 400
    assert first.is_open and "duration_reached" in rows[0].flags
    assert (second.id, second.status, second.responsible_clinician, second.days_elapsed(now)) == \
        (without.id, "invited", None, None)
    assert second.is_open == without.is_open
