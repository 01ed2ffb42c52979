"""The safety net: PHQ-9 (with its item-9 safety rule) at the start and in week 4–5 of the pain
school, and one tiered text on where to get help wherever a patient may need it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import Auth
from webapp.content.parser import parse_module_file
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


# --- Where to get help: one shared text (templates/_crisis.html) on every page that gives it. ---

TIERS = ('href="tel:112"', 'href="tel:1177"', 'href="tel:90101"', "psykiatrisk akutmottagning",
         "Självmordslinjen", "Kontakta din vårdenhet, <bdi>Vårdcentralen Ekbacken</bdi>")
READ_AT_FOLLOW_UPS = "läser dina svar och det du har gjort när ni har en uppföljning, inte hela tiden"


@pytest.fixture
def patient(app, make, db):
    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    user = make.user("patient", name="Kim Exempelsson")
    enrolment = make.enrolment(user, unit, clinician)
    act = make.enrolment(user, unit, clinician, programme="act-long-term-pain")
    client = app.test_client()
    Auth(client, db).login(user)
    return {"client": client, "e": enrolment, "act": act, "user": user, "clinician": clinician}


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_start_page_and_message_page_give_the_tiered_advice_and_say_answers_are_not_read_continuously(patient):
    home = _page(patient["client"], "/home")
    thread = _page(patient["client"], f"/e/{patient['e'].id}/messages")
    for html in (home, thread):
        assert READ_AT_FOLLOW_UPS in html
        assert all(tier in html for tier in TIERS), [t for t in TIERS if t not in html]
    # The most urgent first.
    assert home.index('href="tel:112"') < home.index("psykiatrisk akutmottagning") < home.index("Kontakta din vårdenhet")


def test_module_1_of_each_programme_and_the_act_thoughts_module_carry_the_same_advice(patient):
    pages = {
        "pain school, module 1": f"/e/{patient['e'].id}/pain-physiology/1",
        "ACT, module 1": f"/e/{patient['act'].id}/values/1",
        "ACT, self-critical thoughts": f"/e/{patient['act'].id}/defusion/1",
    }
    for name, url in pages.items():
        html = _page(patient["client"], url)
        assert html.count('class="crisis"') == 1, name
        assert all(t in html for t in TIERS[:5]), name
        assert READ_AT_FOLLOW_UPS in html, name


def test_a_safety_answer_shows_the_tiered_advice(patient, db):
    s = patient
    sc = Auth(s["client"].application.test_client(), db)
    sc.login(s["clinician"])
    url = f"/clinician/enrolments/{s['e'].id}"
    sc.post(f"{url}/questionnaires", {"form_id": "phq-9"}, url)
    dispatch = db.session.scalars(select(Dispatch).where(Dispatch.form_id == "phq-9")).one()
    answer_url = f"/e/{s['e'].id}/questionnaires/{dispatch.id}"
    answers = {f"q{n}": "0" for n in range(1, 10)} | {"q9": "1", "action": "submit"}
    done = Auth(s["client"], db).post(answer_url, answers, answer_url)
    html = _page(s["client"], done.location)
    assert 'role="alert"' in html
    assert all(tier in html for tier in TIERS), [t for t in TIERS if t not in html]


@pytest.mark.parametrize("locale, heading", [
    ("sv", "Om du mår sämre"), ("en", "If you feel worse"), ("ar", "إذا ساءت حالتك"), ("fa", "اگر حالتان بدتر شد")])
def test_the_advice_is_in_the_patients_language(patient, db, locale, heading):
    patient["user"].locale = locale
    db.session.commit()
    html = _page(patient["client"], "/home")
    assert heading in html and 'href="tel:90101"' in html


def test_a_crisis_block_takes_no_text_of_its_own():
    parsed = parse_module_file("---\ntitle: T\nkind: normal\n---\n\n## Page\n\n::: crisis\nRing 112.\n:::\n", "m.md")
    assert [str(p) for p in parsed.problems] == [
        "m.md:8: the crisis block takes no text: it shows the shared advice on where to get help — "
        "write only the lines '::: crisis' and ':::', and put your own words outside the block"]
    ok = parse_module_file("---\ntitle: T\nkind: normal\n---\n\n## Page\n\n::: crisis\n:::\n", "m.md")
    assert ok.problems == [] and [s.kind for s in ok.pages[0].segments] == ["crisis"]
