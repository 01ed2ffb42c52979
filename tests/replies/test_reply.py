"""The reply to the referring unit: drafted from the enrolment, reviewed, saved as versions, read by the patient."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import Auth
from tests.replies.data import two_patients
from webapp.core.audit import AccessLogEntry
from webapp.programme.models import EnrolmentEvent
from webapp.replies.models import ReferralReply


@pytest.fixture
def s(app, make, db):
    data = two_patients(make, db)
    data["sc"], data["pc"], data["oc"] = app.test_client(), app.test_client(), app.test_client()
    Auth(data["sc"], db).login(data["clinician"])
    Auth(data["pc"], db).login(data["patient"])
    Auth(data["oc"], db).login(data["other"])
    return data


def _url(s):
    return f"/clinician/enrolments/{s['e'].id}/reply"


def _fields(page: str) -> dict:
    """The editor's textareas as the browser would post them back."""
    import html
    import re
    found = {name: html.unescape(text).strip() for name, text in
             re.findall(r'<textarea[^>]*name="(\w+)"[^>]*>(.*?)</textarea>', page, re.S)}
    return found


def test_draft_is_filled_in_from_the_enrolment_only(s, db):
    page = s["sc"].get(_url(s)).get_data(as_text=True)
    fields = _fields(page)
    assert set(fields) == {"done", "questionnaires", "plan", "recommendations"}
    assert f"före {s['before']:g}" in fields["questionnaires"] and f"senast {s['after']:g}" in fields["questionnaires"]
    assert f"förändring {s['after'] - s['before']:+g} poäng" in fields["questionnaires"]
    assert "Barnbarnen" in fields["plan"] and "Graderad träning (Fysioterapeut, tisdagar)" in fields["plan"]
    assert "Uppföljning av träningen" in fields["plan"] and "genomförd" in fields["plan"]
    assert "Avsnitt som är klara: 0 av 10." in fields["done"]
    assert fields["recommendations"] == ""
    assert "Olle Annansson" not in page
    entry = db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "reply.edit")).one()
    assert entry.patient_id == s["patient"].id and entry.enrolment_id == s["e"].id


def test_saved_versions_printed_and_read_by_the_patient(s, db):
    page = s["sc"].get(_url(s)).get_data(as_text=True)
    fields = _fields(page)
    # Without recommendations: a field message in Swedish, nothing saved, the edits kept.
    edited = {**fields, "questionnaires": fields["questionnaires"] + "\nSmärtan minskade tydligt.",
              "recipient": "Vårdcentralen Norr, dr Berg"}
    bad = Auth(s["sc"], db).post(_url(s), edited, _url(s))
    assert bad.status_code == 400
    body = bad.get_data(as_text=True)
    assert "Skriv dina rekommendationer innan du sparar svaret." in body and "Smärtan minskade tydligt." in body
    assert db.session.scalars(select(ReferralReply)).all() == []

    edited["recommendations"] = "Fortsätt med graderad träning. <script>alert(1)</script>"
    ok = Auth(s["sc"], db).post(_url(s), edited, _url(s))
    assert ok.status_code == 302 and ok.headers["Location"].endswith(f"{_url(s)}/1")
    printed = s["sc"].get(f"{_url(s)}/1").get_data(as_text=True)
    assert "Smärtan minskade tydligt." in printed and "Vårdcentralen Norr, dr Berg" in printed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in printed and "<script>alert(1)" not in printed
    assert "Skriv ut / spara som pdf" in printed and "version 1" in printed

    # The editor now opens with the saved version; a second save is version 2, version 1 kept.
    again = _fields(s["sc"].get(_url(s)).get_data(as_text=True))
    assert "Smärtan minskade tydligt." in again["questionnaires"]
    Auth(s["sc"], db).post(_url(s), {**again, "recipient": "", "recommendations": "Återbesök om tre månader."},
                           _url(s))
    versions = db.session.scalars(select(ReferralReply).order_by(ReferralReply.number)).all()
    assert [v.number for v in versions] == [1, 2] and versions[0].created_by_id == s["clinician"].id
    assert "Fortsätt med graderad träning" in versions[0].content
    events = db.session.scalars(select(EnrolmentEvent.detail).where(EnrolmentEvent.kind == "reply_saved")).all()
    assert sorted(events) == ["version 1", "version 2"]
    actions = db.session.scalars(select(AccessLogEntry.action).where(AccessLogEntry.action.like("reply.%"))).all()
    assert actions.count("reply.save") == 2 and "reply.print" in actions

    # The patient reads the newest version from the start page; nobody else can.
    home = s["pc"].get("/home").get_data(as_text=True)
    assert f"/e/{s['e'].id}/reply" in home
    mine = s["pc"].get(f"/e/{s['e'].id}/reply").get_data(as_text=True)
    assert "Återbesök om tre månader." in mine and "Fortsätt med graderad träning" not in mine
    assert s["oc"].get(f"/e/{s['e'].id}/reply").status_code == 404
    assert s["oc"].get(f"/e/{s['e_other'].id}/reply").status_code == 404  # no reply written yet
    assert f"/e/{s['e_other'].id}/reply" not in s["oc"].get("/home").get_data(as_text=True)
    assert s["sc"].get(f"{_url(s)}/3").status_code == 404


def test_a_reply_keeps_its_language_on_a_page_in_another(s, db, make):
    fields = _fields(s["sc"].get(_url(s)).get_data(as_text=True))
    Auth(s["sc"], db).post(_url(s), {**fields, "recipient": "", "recommendations": "Fortsätt träna."}, _url(s))
    s["patient"].locale = "ar"
    db.session.commit()
    page = s["pc"].get(f"/e/{s['e'].id}/reply").get_data(as_text=True)
    assert page.count('<p class="answer-text" lang="sv" dir="ltr">') == 4 and '<html lang="ar" dir="rtl">' in page


def test_only_the_unit_of_the_enrolment_writes_or_reads_its_reply(s, db, make, app):
    other_unit = make.unit(name="Annan enhet")
    stranger = make.user("clinician", units=[other_unit])
    client = app.test_client()
    Auth(client, db).login(stranger)
    assert client.get(_url(s)).status_code == 404
    fields = {"recommendations": "x", "done": "", "questionnaires": "", "plan": "", "recipient": ""}
    assert Auth(client, db).post(_url(s), fields).status_code == 404
    assert db.session.scalars(select(ReferralReply)).all() == []


def test_a_reply_written_into_an_expired_session_comes_back(s, db):
    from tests.auth.test_drafts import _expire
    from tests.fixtures.plugin import csrf_token_from

    token = csrf_token_from(s["sc"].get(_url(s)).get_data(as_text=True))
    _expire(db, s["clinician"])
    s["sc"].post(_url(s), data={"csrf_token": token, "recommendations": "Ett långt svar som inte får försvinna.",
                                "done": "", "questionnaires": "", "plan": "", "recipient": ""},
                 headers={"Referer": f"http://localhost{_url(s)}"})
    assert db.session.scalars(select(ReferralReply)).all() == []
    Auth(s["sc"], db).login(s["clinician"])
    assert "Ett långt svar som inte får försvinna." in s["sc"].get(_url(s)).get_data(as_text=True)
