"""Groups: sessions from a simple rhythm, three members enrolled in one step,
modules opening with the sessions, and members invisible to each other."""

from __future__ import annotations

from datetime import date, timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from tests.fixtures.plugin import Auth
from webapp.core.identity import luhn_check_digit
from webapp.groups.models import Group, GroupMember, GroupSession
from webapp.notifications.models import OutboxItem
from webapp.programme.models import Enrolment, ScheduleEntry


def pnr(date_and_serial: str) -> str:
    """A valid personal identity number from YYYYMMDD and a three-digit serial."""
    return f"{date_and_serial[:8]}-{date_and_serial[8:]}{luhn_check_digit(date_and_serial[2:])}"


PEOPLE = [("19700101123", "Anna Andersson", "anna@lotsa.example"),
          ("19750505456", "Bertil Berg", "bertil@lotsa.example"),
          ("19800808789", "Cecilia Carlsson", "cecilia@lotsa.example")]


@pytest.fixture
def s(app, make, db):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    colleague = make.user("clinician", units=[unit], name="Frida Fysio")
    client = app.test_client()
    Auth(client, db).login(clinician)
    return {"unit": unit, "clinician": clinician, "colleague": colleague, "client": client}


def _create(s, db, **overrides):
    data = {"name": "Smärtskola tisdagar", "unit_id": str(s["unit"].id), "programme_id": "pain-school",
            "first_day": "2027-01-12", "time": "13:00", "per_week": "2", "weeks": "8", **overrides}
    return Auth(s["client"], db).post("/clinician/groups", data, "/clinician/groups")


def _members_form(rows):
    data = {"welcome_text": "Välkommen till gruppen!", "locale": "sv"}
    for n, (serial, name, email) in enumerate(rows):
        data.update({f"pnr_{n}": pnr(serial), f"name_{n}": name, f"email_{n}": email})
    return data


def test_group_of_three_in_one_step(app, s, db):
    assert _create(s, db).status_code == 302
    group = db.session.scalars(select(Group)).one()
    sessions = db.session.scalars(select(GroupSession).order_by(GroupSession.starts_at)).all()
    assert len(sessions) == 16
    assert [x.module_id for x in sessions[:3]] == ["pain-physiology", None, "treatment"]
    # Tuesday 13:00 Stockholm (winter time) is 12:00 UTC; the second session is on Friday.
    assert sessions[0].starts_at.hour == 12 and (sessions[1].starts_at - sessions[0].starts_at).days == 3

    data = _members_form(PEOPLE) | {"responsible_1": str(s["colleague"].id)}
    response = Auth(s["client"], db).post(f"/clinician/groups/{group.id}/members", data, f"/clinician/groups/{group.id}")
    assert response.status_code == 302
    enrolments = db.session.scalars(select(Enrolment).order_by(Enrolment.id)).all()
    assert len(enrolments) == 3 and {e.welcome_text for e in enrolments} == {"Välkommen till gruppen!"}
    assert [e.responsible_clinician_id for e in enrolments] == [s["clinician"].id, s["colleague"].id, s["clinician"].id]
    invitations = db.session.scalars(select(OutboxItem.address).where(OutboxItem.kind == "invitation")).all()
    assert sorted(invitations) == sorted(p[2] for p in PEOPLE)
    assert db.session.scalar(select(func.count(GroupMember.id))) == 3

    # Modules open with the sessions.
    entry = db.session.scalars(select(ScheduleEntry).where(ScheduleEntry.enrolment_id == enrolments[0].id,
                                                           ScheduleEntry.module_id == "treatment")).one()
    assert entry.opens_at == sessions[2].starts_at
    # Moving the session moves the module's opening for every member.
    url = f"/clinician/groups/{group.id}/sessions/{sessions[2].id}"
    Auth(s["client"], db).post(url, {"day": "2027-01-21", "time": "15:30", "topic": "Behandling",
                                     "module_id": "treatment"}, f"/clinician/groups/{group.id}")
    opens = db.session.scalars(select(ScheduleEntry.opens_at).where(ScheduleEntry.module_id == "treatment")).all()
    assert len(opens) == 3 and all(o.isoformat().startswith("2027-01-21T14:30") for o in opens)


def test_a_wrong_row_adds_nobody_and_keeps_the_input(s, db):
    _create(s, db)
    group = db.session.scalars(select(Group)).one()
    data = _members_form(PEOPLE) | {"pnr_2": "19800808-7890"}  # wrong check digit
    page = Auth(s["client"], db).post(f"/clinician/groups/{group.id}/members", data, f"/clinician/groups/{group.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "Personnumrets sista siffra stämmer inte." in html
    assert 'value="Cecilia Carlsson"' in html and 'value="19800808-7890"' in html
    assert db.session.scalar(select(func.count(Enrolment.id))) == 0
    assert db.session.scalar(select(func.count(GroupMember.id))) == 0


def test_members_see_their_sessions_and_nothing_of_each_other(app, s, db):
    _create(s, db, first_day=(date.today() + timedelta(days=7)).isoformat())
    group = db.session.scalars(select(Group)).one()
    Auth(s["client"], db).post(f"/clinician/groups/{group.id}/members", _members_form(PEOPLE),
                               f"/clinician/groups/{group.id}")
    from webapp.auth.models import User
    from webapp.auth.services import set_password

    anna = db.session.scalars(select(User).where(User.email == "anna@lotsa.example")).one()
    set_password(anna, "correct horse battery")
    anna.totp_secret = pyotp.random_base32()  # her second step at log-in (an app code)
    enrolment = db.session.scalars(select(Enrolment).where(Enrolment.patient_id == anna.id)).one()
    enrolment.status, enrolment.started_at = "active", enrolment.created_at
    db.session.commit()
    client = app.test_client()
    Auth(client, db).login(anna)
    home = client.get("/home").get_data(as_text=True)
    assert "Dina gruppträffar" in home
    for path in ("/home", f"/e/{enrolment.id}/", f"/e/{enrolment.id}/messages", f"/e/{enrolment.id}/summary"):
        html = client.get(path).get_data(as_text=True)
        for _serial, name, email in PEOPLE[1:]:
            assert name not in html and email not in html, path
    # Staff pages stay closed to patients.
    assert client.get(f"/clinician/groups/{group.id}").status_code == 403


def test_moving_out_keeps_the_enrolment_and_groups_are_unit_bound(app, s, make, db):
    _create(s, db)
    group = db.session.scalars(select(Group)).one()
    Auth(s["client"], db).post(f"/clinician/groups/{group.id}/members", _members_form(PEOPLE[:1]),
                               f"/clinician/groups/{group.id}")
    member = db.session.scalars(select(GroupMember)).one()
    Auth(s["client"], db).post(f"/clinician/groups/{group.id}/members/{member.id}/remove", {},
                               f"/clinician/groups/{group.id}")
    db.session.refresh(member)
    enrolment = db.session.get(Enrolment, member.enrolment_id)
    assert member.left_at is not None and enrolment.status == "invited"
    assert "Anna Andersson" not in s["client"].get(f"/clinician/groups/{group.id}").get_data(as_text=True)

    outsider = app.test_client()
    Auth(outsider, db).login(make.user("clinician", units=[make.unit()]))
    assert outsider.get(f"/clinician/groups/{group.id}").status_code == 404
    assert "Smärtskola tisdagar" not in outsider.get("/clinician/groups").get_data(as_text=True)


def test_bad_group_form_is_answered_field_by_field(s, db):
    page = _create(s, db, name="", weeks="40", time="25:99")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Ge gruppen ett namn" in html and "Välj mellan 1 och 16 veckor." in html and "Skriv tiden som tt:mm." in html
    assert db.session.scalar(select(func.count(Group.id))) == 0
