"""The patient information library: public pages without login or cookies, handouts, and sending a page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import Auth, csrf_token_from

PAGE = "/info/{lang}/pain-info/what-is-long-term-pain"
LANGS = ["sv", "en", "ar", "fa"]
FIXTURES = Path(__file__).parents[1] / "content" / "fixtures" / "translations"
LEAFLET = {"CONTENT_ROOT": str(FIXTURES / "modules"), "MEDIA_ROOT": str(FIXTURES / "media"),
           "FORMS_ROOT": str(FIXTURES / "forms")}


@pytest.mark.parametrize("lang", LANGS)
def test_the_public_page_needs_no_login_and_sets_no_cookie(client, lang):
    response = client.get(PAGE.format(lang=lang))
    assert response.status_code == 200
    assert response.headers.getlist("Set-Cookie") == []
    assert "public" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    direction = "rtl" if lang in ("ar", "fa") else "ltr"
    assert f'<html lang="{lang}" dir="{direction}">' in html
    # No form, no CSRF token, no account menu: nothing that would need a session.
    assert "csrf_token" not in html and "<form" not in html and "/auth/logout" not in html
    # The switcher links exactly the languages the page exists in, each marked with its language.
    links = re.findall(r'<a href="/info/(\w+)/pain-info/what-is-long-term-pain" lang="(\w+)"', html)
    assert sorted(code for code, _ in links) == sorted(LANGS)
    assert all(code == marked for code, marked in links)
    assert 'class="interpreter"' in html


def test_the_browser_language_picks_the_start_page_and_unknown_addresses_are_not_found(client):
    response = client.get("/info/", headers={"Accept-Language": "fa,en;q=0.5"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/info/fa/")
    assert client.get("/info/fa/").status_code == 200
    for url in ("/info/de/pain-info/what-is-long-term-pain",    # a language the page does not exist in
                "/info/sv/pain-school/pain-physiology",         # a programme that is not public
                "/info/sv/pain-info/no-such-page"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.headers.getlist("Set-Cookie") == [], url


def test_a_logged_in_patient_sees_no_personal_data_on_the_public_page(client, db, make):
    patient = make.user("patient", name="Zainab Qasemi")
    Auth(client, db).login(patient)
    response = client.get(PAGE.format(lang="ar"))
    html = response.get_data(as_text=True)
    assert "Zainab" not in html and "csrf_token" not in html
    # A response to a visitor with cookies never goes into a shared cache.
    assert "public" not in response.headers["Cache-Control"]


def test_the_handout_has_a_qr_code_of_the_public_address(app, client):
    html = client.get(PAGE.format(lang="ar") + "/handout").get_data(as_text=True)
    address = app.config["BASE_URL"].rstrip("/") + PAGE.format(lang="ar")
    assert '<img src="data:image/png;base64,' in html and f'<span dir="ltr" class="url">{address}</span>' in html


@pytest.mark.parametrize("app_config", [LEAFLET])
def test_the_listen_track_is_public_with_the_page(client):
    html = client.get("/info/sv/leaflet/about-pain").get_data(as_text=True)
    assert '<audio controls preload="none" src="/info/media/demo-audio/sv.mp3"' in html
    media = client.get("/info/media/demo-audio/sv.mp3")
    assert media.status_code == 200 and media.headers.getlist("Set-Cookie") == []
    media.close()
    # The listen track belongs to a language version: ar.md names none, so the Arabic page has no player.
    assert "<audio" not in client.get("/info/ar/leaflet/about-pain").get_data(as_text=True)
    # Persian is hidden (a question is missing there), so it is neither served nor offered.
    assert client.get("/info/fa/leaflet/about-pain").status_code == 404
    assert "/info/fa/leaflet/about-pain" not in html
    assert client.get("/info/media/demo-audio/nope.mp3").status_code == 404


def test_a_clinician_sends_information_the_patient_reads_it_in_their_language(app, db, make):
    from webapp.library.models import SharedInformation
    from webapp.notifications.models import OutboxItem
    from webapp.notifications.services import render

    unit = make.unit()
    clinician, outsider = make.user("clinician", units=[unit]), make.user("clinician", units=[make.unit()])
    patient = make.user("patient", locale="ar")
    enrolment = make.enrolment(patient, unit, clinician)
    staff = app.test_client()
    auth = Auth(staff, db)
    auth.login(clinician)
    page = staff.get(f"/clinician/enrolments/{enrolment.id}/care").get_data(as_text=True)
    assert 'value="pain-info/what-is-long-term-pain"' in page
    # The handout link is in the patient's language.
    links = re.findall(r'href="/info/(\w+)/pain-info/what-is-long-term-pain/handout"', page)
    assert links == ["ar", "sv", "en", "fa"]
    response = staff.post(f"/clinician/enrolments/{enrolment.id}/information",
                          data={"csrf_token": csrf_token_from(page), "information": "pain-info/what-is-long-term-pain"})
    assert response.status_code == 302
    # Not public, or not a page at all: refused, nothing stored.
    for bad in ("pain-school/pain-physiology", "pain-info/../pain-school", ""):
        staff.post(f"/clinician/enrolments/{enrolment.id}/information",
                   data={"csrf_token": csrf_token_from(page), "information": bad})
    assert len(db.session.scalars(select(SharedInformation)).all()) == 1

    items = db.session.scalars(select(OutboxItem).where(OutboxItem.kind == "information_shared")).all()
    assert [i.user_id for i in items] == [patient.id]
    assert set(json.loads(items[0].payload)) == {"url"}
    text = render(items[0])
    for secret in ("pain-info", "ألم", "الألم", "Vad är", patient.full_name):
        assert secret not in text.subject + text.body

    home_client = app.test_client()
    Auth(home_client, db).login(patient)
    home = home_client.get("/home").get_data(as_text=True)
    assert 'href="/info/ar/pain-info/what-is-long-term-pain" lang="ar" dir="rtl"' in home
    assert "ما هو الألم طويل الأمد؟" in home
    assert 'class="interpreter"' in home

    # Another care unit's clinician cannot send to this enrolment.
    other = app.test_client()
    Auth(other, db).login(outsider)
    token = csrf_token_from(other.get("/clinician/").get_data(as_text=True))
    assert other.post(f"/clinician/enrolments/{enrolment.id}/information",
                      data={"csrf_token": token, "information": "pain-info/what-is-long-term-pain"}).status_code == 404


def test_editors_see_who_translated_and_reviewed_and_what_is_stale(client, auth, make):
    auth.login(make.user("editor"))
    html = client.get("/content/").get_data(as_text=True)
    assert "Lotsa content team (draft)" in html
    assert html.count('class="coverage-stale"') == 0  # the shipped translations are up to date
    assert "content/glossary/ar.yaml" in html


@pytest.mark.parametrize("app_config", [LEAFLET])
def test_editors_see_a_stale_translation_and_its_reviewer(client, auth, make):
    auth.login(make.user("editor"))
    html = client.get("/content/").get_data(as_text=True)
    assert "Dr Berg" in html and "Anna Translator" in html and "Samir" in html
    # ar in the per-language summary, the coverage table and the translations table
    assert html.count('class="coverage-stale"') == 3
