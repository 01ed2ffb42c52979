"""The patient journey: schedule, pages, progress, answers, conflicts, summary."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.content.test_views import GOOD
from webapp.core.db import utcnow
from webapp.programme.models import Answer, AnswerVersion, ModuleProgress, ScheduleEntry

pytestmark = pytest.mark.parametrize("app_config", [GOOD])


@pytest.fixture
def journey(make, auth):
    """A logged-in patient with an active enrolment in the demo programme (weekly pace)."""
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Tolvan Tolvansson")
    enrolment = make.enrolment(patient, unit, clinician, programme="demo", welcome_text="Hej och **välkommen**!")
    auth.login(patient)
    return enrolment


def _page(enrolment, module="intro", page=1):
    return f"/e/{enrolment.id}/{module}/{page}"


def _save(auth, enrolment, block, accept_json=True, **fields):
    headers = {"Accept": "application/json"} if accept_json else {}
    return auth.post(f"/e/{enrolment.id}/answers/{block}", fields, _page(enrolment), headers=headers)


def test_start_page_shows_welcome_progress_and_what_is_next(client, journey):
    html = client.get("/home").get_data(as_text=True)
    assert "Hej och <strong>välkommen</strong>!" in html
    assert "Elsa Exempel" in html
    assert "0 av 2 moduler klara" in html
    assert 'href="/e/%d/intro/1"' % journey.id in html  # continue where you left off
    assert "Avslutning" in html  # the next module and when it opens


def test_module_pages_record_progress(client, journey, db):
    assert client.get(_page(journey, page=1)).status_code == 200
    html = client.get(_page(journey, page=2)).get_data(as_text=True)
    assert "Sida 2 av 3" in html
    progress = db.session.scalars(select(ModuleProgress)).one()
    assert progress.pages_seen == 2 and progress.last_page == 2
    assert client.get(_page(journey, page=4)).status_code == 404


def test_module_not_open_yet_is_404_until_its_week(client, journey, db):
    assert client.get(_page(journey, "closing")).status_code == 404
    db.session.add(ScheduleEntry(enrolment_id=journey.id, module_id="closing", opens_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert client.get(_page(journey, "closing")).status_code == 200


def test_skipped_module_is_404_and_not_counted(client, journey, db):
    db.session.add(ScheduleEntry(enrolment_id=journey.id, module_id="closing", is_skipped=True))
    db.session.commit()
    assert client.get(_page(journey, "closing")).status_code == 404
    assert "0 av 1 modul klar" in client.get("/home").get_data(as_text=True)


def test_answer_is_saved_versioned_and_shown_as_text(client, auth, journey, db):
    response = _save(auth, journey, "intro-first-thought", text="<script>alert(1)</script> och mer", base_version="0")
    assert response.status_code == 200 and response.get_json()["version"] == 1
    html = client.get(_page(journey, page=2)).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; och mer" in html
    assert "<script>alert(1)</script>" not in html
    _save(auth, journey, "intro-first-thought", text="Andra versionen", base_version="1")
    answer = db.session.scalars(select(Answer)).one()
    assert (answer.text, answer.version) == ("Andra versionen", 2)
    assert len(db.session.scalars(select(AnswerVersion)).all()) == 2


def test_conflicting_saves_keep_both_versions(client, auth, journey, db):
    _save(auth, journey, "intro-first-thought", text="Från flik A", base_version="0")
    # Tab B loaded the page before tab A saved, so it still thinks version 0.
    response = _save(auth, journey, "intro-first-thought", text="Från flik B", base_version="0")
    assert response.status_code == 409
    assert response.get_json()["text"] == "Från flik A"
    versions = db.session.scalars(select(AnswerVersion).order_by(AnswerVersion.id)).all()
    assert [(v.text, v.is_conflict) for v in versions] == [("Från flik A", False), ("Från flik B", True)]
    assert db.session.scalars(select(Answer.text)).one() == "Från flik A"
    # Without JavaScript the page shows both texts.
    page = _save(auth, journey, "intro-first-thought", accept_json=False, text="Från flik B", base_version="0", page="2")
    html = page.get_data(as_text=True)
    assert page.status_code == 409
    assert "Från flik A" in html and "Från flik B" in html


def test_too_long_answer_is_refused_and_the_text_kept(auth, journey, db):
    text = "x" * 10_001
    response = _save(auth, journey, "intro-first-thought", accept_json=False, text=text, base_version="0", page="2")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Ditt svar är för långt" in html
    assert text in html
    assert db.session.scalars(select(Answer)).all() == []
    json = _save(auth, journey, "intro-first-thought", text=text, base_version="0")
    assert json.status_code == 400 and "för långt" in json.get_json()["message"]


def test_task_and_rating_without_javascript(client, auth, journey, db):
    response = auth.post(f"/e/{journey.id}/answers/intro-walk",
                         {"checked": ["1"], "text": "På söndag", "base_version": "0", "page": "3"}, _page(journey))
    assert response.status_code == 302 and response.location.endswith("/intro/3#q-intro-walk")
    _save(auth, journey, "intro-managing", value="7", base_version="0")
    assert _save(auth, journey, "intro-managing", value="11", base_version="1").status_code == 400
    html = client.get(_page(journey, page=3)).get_data(as_text=True)
    assert 'value="1" checked' in html and 'value="7" checked' in html


def test_other_patients_answers_and_enrolments_are_404(app, auth, journey, make, db):
    from tests.fixtures.plugin import Auth

    other = make.user("patient")
    other_client = app.test_client()
    Auth(other_client, db).login(other)
    assert other_client.get(_page(journey)).status_code == 404
    assert other_client.get(f"/e/{journey.id}/summary").status_code == 404
    response = Auth(other_client, db).post(f"/e/{journey.id}/answers/intro-first-thought", {"text": "x"})
    assert response.status_code == 404


def test_mark_done_moves_the_progress(client, auth, journey):
    response = auth.post(f"/e/{journey.id}/intro/done", {}, _page(journey))
    assert response.status_code == 302
    assert "1 av 2 moduler klara" in client.get("/home").get_data(as_text=True)


def test_closed_enrolment_blocks_modules_but_not_the_summary(client, auth, journey, db):
    _save(auth, journey, "intro-first-thought", text="Mitt svar", base_version="0")
    journey.status = "closed"
    journey.closed_at = utcnow()
    db.session.commit()
    assert client.get(_page(journey)).status_code == 404
    assert client.get(f"/e/{journey.id}/").status_code == 404
    assert client.get("/media/demo-audio/sv.mp3").status_code == 404
    summary = client.get(f"/e/{journey.id}/summary")
    assert summary.status_code == 200 and "Mitt svar" in summary.get_data(as_text=True)
    home = client.get("/home").get_data(as_text=True)
    assert "Din tillgång till programmet har avslutats." in home


def test_summary_module_shows_the_summary_in_place(client, auth, journey, db):
    _save(auth, journey, "intro-first-thought", text="Det jag skrev", base_version="0")
    db.session.add(ScheduleEntry(enrolment_id=journey.id, module_id="closing", opens_at=utcnow()))
    db.session.commit()
    html = client.get(_page(journey, "closing")).get_data(as_text=True)
    assert "Det jag skrev" in html


def test_module_page_parses_no_markdown_and_runs_a_bounded_number_of_queries(client, auth, journey, monkeypatch,
                                                                              count_queries, db):
    from markdown_it import MarkdownIt

    client.get(_page(journey))  # warm up
    for n in range(2):
        _save(auth, journey, "intro-first-thought", text=f"svar {n}", base_version=str(n))

    def refuse(*args, **kwargs):
        raise AssertionError("Markdown parsed during a request")

    monkeypatch.setattr(MarkdownIt, "parse", refuse)
    monkeypatch.setattr(MarkdownIt, "render", refuse)
    with count_queries() as few:
        assert client.get(_page(journey, page=2)).status_code == 200
    _save(auth, journey, "intro-walk", checked=["0"], base_version="0")
    _save(auth, journey, "intro-managing", value="3", base_version="0")
    with count_queries() as more:
        assert client.get(_page(journey, page=2)).status_code == 200
    assert more.count == few.count
    assert few.count <= 12, few.statements
