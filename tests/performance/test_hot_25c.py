"""Absolute statement counts of the clinician's hot pages (issue 25): the caseload of one
unit, the caseload of a clinician in several units, and the enrolment page.

test_query_bounds only checks that a page costs no more with 50 rows than with 1;
these fix the count itself, so a statement added back fails here. The counts are
of a warmed-up request (see bounds.measure), session row and user included.
"""

from __future__ import annotations

from tests.performance import test_query_bounds as cases
from tests.performance.bounds import listing, measure
from tests.performance.test_query_bounds import _e, _patient_enrolment, add_caseload, add_overview_rows
from webapp.auth.models import Membership

world = cases.world  # the query-bound tests' people: a unit, its clinician, a patient in week ten

# session + user, count, the page (with patients, clinicians and modules done),
# the access-log entry (the open alerts are counted with the total), the navigation's unread count.
CASELOAD = 5
# The enrolment overview (answers per module and patient messages in one statement).
ENROLMENT = 12


def test_caseload_of_one_unit(world, db, auth, client, count_queries):
    w = world
    assert auth.login(w.clinician).status_code == 302
    add_caseload(w, range(50))
    db.session.commit()
    counter, html = measure(client, "/clinician/", count_queries)
    assert w.marks[0] in html
    assert counter.count <= CASELOAD, listing(counter)


def test_caseload_of_every_unit_costs_the_same(world, db, make, auth, client, count_queries):
    w = world
    assert auth.login(w.clinician).status_code == 302
    add_caseload(w, range(30))
    others = [make.unit(name=f"Vårdcentralen {n}") for n in range(3)]
    db.session.add_all(Membership(user_id=w.clinician.id, care_unit_id=unit.id) for unit in others)
    db.session.flush()
    for n, unit in enumerate(others):
        _patient_enrolment(w, 100 + n, unit=unit)
    db.session.commit()
    counter, html = measure(client, "/clinician/", count_queries)
    assert "Patient 102" in html, "the other units' patients are on the page"
    assert counter.count <= CASELOAD, listing(counter)


def test_enrolment_page(world, db, auth, client, count_queries):
    w = world
    assert auth.login(w.clinician).status_code == 302
    add_overview_rows(w, range(8))
    db.session.commit()
    counter, _html = measure(client, f"/clinician/enrolments/{_e(w)}", count_queries)
    assert counter.count <= ENROLMENT, listing(counter)
