"""Interface languages: Swedish by default, English, and Arabic and Persian written right to left."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.fixtures.plugin import Auth

TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"


def test_swedish_is_the_default(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="sv" dir="ltr">' in html
    assert "Logga in" in html


@pytest.mark.parametrize(
    "locale, direction, heading",
    [("sv", "ltr", "Logga in i Lotsa"), ("en", "ltr", "Log in to Lotsa"), ("ar", "rtl", None), ("fa", "rtl", "ورود به Lotsa")],
)
def test_language_switch(client, db, locale, direction, heading):
    auth = Auth(client, db)
    response = auth.post("/language", {"locale": locale, "next": "/auth/login"})
    assert response.status_code == 302
    html = client.get("/auth/login").get_data(as_text=True)
    assert f'<html lang="{locale}" dir="{direction}">' in html
    if heading:
        assert heading in html
    else:
        # The Arabic page shows the Arabic catalogue's text, not the English msgid.
        assert "Log in to Lotsa" not in html and "تسجيل" in html


def test_language_choice_is_stored_on_the_account(client, db, make):
    patient = make.user("patient", locale="sv")
    auth = Auth(client, db)
    auth.login(patient)
    auth.post("/language", {"locale": "ar"})
    db.session.refresh(patient)
    assert patient.locale == "ar"
    auth.logout()
    Auth(client, db).login(patient)
    assert 'dir="rtl"' in client.get("/home").get_data(as_text=True)


def test_browser_language_is_used_before_a_choice(client):
    html = client.get("/auth/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en"' in html


@pytest.mark.parametrize("locale", ["sv", "en", "ar", "fa"])
def test_catalogues_are_complete(locale):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    missing = [m.id for m in template if m.id and m.id not in catalog]
    empty = [m.id for m in catalog if m.id and (not m.string or not all(m.string if isinstance(m.string, tuple) else [m.string]))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    problems = [(m.id, err) for m in catalog for err in m.check(catalog)]
    assert (missing, empty, fuzzy, problems) == ([], [], [], [])


def test_template_strings_are_translated_escaped_and_formatted(app):
    """The per-render gettext: catalogue text, variables escaped, plural forms, no markup from users."""
    from flask import render_template_string

    with app.test_request_context(headers={"Accept-Language": "sv"}):
        html = render_template_string(
            '{{ _("Log out") }}|{{ _("Change from the first to the latest answer: %(change)s points", change=value) }}'
            '|{{ ngettext("%(num)d enrolment", "%(num)d enrolments", 3) }}', value="<b>2</b>")
    logout, change, plural = html.split("|")
    assert logout == "Logga ut"
    assert "&lt;b&gt;2&lt;/b&gt;" in change and "<b>" not in change
    assert plural == "3 inskrivningar"
