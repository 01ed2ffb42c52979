"""Off-boarding staff from the command line: out of a unit, or the account closed, sessions ended."""

from __future__ import annotations

from tests.fixtures.plugin import Auth
from webapp.core.audit import AccessLogEntry


def _logged_in(app, db, user):
    client = app.test_client()
    assert Auth(client, db).login(user).status_code == 302
    return client


def test_removing_a_clinician_from_a_unit_ends_their_access_and_sessions(app, db, make, runner):
    unit, other = make.unit("vc-norra"), make.unit("vc-sodra")
    clinician = make.user("clinician", units=[unit, other], email="off@region.example")
    enrolment = make.enrolment(make.user("patient"), unit, clinician)
    client = _logged_in(app, db, clinician)
    assert client.get(f"/clinician/enrolments/{enrolment.id}").status_code == 200

    result = runner.invoke(args=["staff", "remove-from-unit", "off@region.example", "--unit", "vc-norra"])
    assert result.exit_code == 0, result.output
    assert "1 open enrolments at vc-norra still name them" in result.output
    # In the session already open, the unit's patient is out of reach on the next request;
    # the other unit's work goes on.
    assert client.get(f"/clinician/enrolments/{enrolment.id}").status_code == 404
    assert client.get("/clinician/").status_code == 200


def test_deactivating_a_staff_account_ends_every_session_and_refuses_login(app, db, make, runner):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], email="leaving@region.example")
    first, second = _logged_in(app, db, clinician), _logged_in(app, db, clinician)

    result = runner.invoke(args=["staff", "deactivate", "leaving@region.example"])
    assert result.exit_code == 0, result.output
    assert "2 sessions ended" in result.output
    for client in (first, second):
        assert "/auth/login" in client.get("/clinician/").headers.get("Location", "")
    assert Auth(app.test_client(), db).login(clinician).status_code == 200  # the form again, not a session
    # Recorded as a security event by id, never by address.
    events = db.session.query(AccessLogEntry).filter(AccessLogEntry.action.like("%deactivated%")).all()
    assert events and all("leaving@" not in (e.detail or "") for e in events)


def test_offboarding_refuses_unknown_people_and_units(app, db, make, runner):
    make.user("clinician", units=[make.unit("vc-a")], email="known@region.example")
    assert runner.invoke(args=["staff", "deactivate", "nobody@region.example"]).exit_code != 0
    assert runner.invoke(args=["staff", "remove-from-unit", "known@region.example", "--unit", "nope"]).exit_code != 0
    assert runner.invoke(args=["staff", "remove-from-unit", "known@region.example", "--unit", "vc-a"]).exit_code == 0
    assert runner.invoke(args=["staff", "remove-from-unit", "known@region.example", "--unit", "vc-a"]).exit_code != 0
