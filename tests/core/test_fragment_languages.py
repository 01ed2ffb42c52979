"""Every fragment of content in another language than the page carries its own lang (and dir).

Over every page type of the accessibility matrix, for a Persian and an Arabic
reader (most content exists only in Swedish and English): wherever a content
text chosen for the page is in another language (a programme or module title,
a questionnaire's wording, an option), the nearest element with a ``lang``
attribute must name that language, and its ``dir`` the right direction.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from tests.e2e.test_accessibility import ADMIN_PAGES, CLINICIAN_PAGES, EDITOR_PAGES, PATIENT_PAGES, world  # noqa: F401
from tests.fixtures.plugin import Auth
from webapp.auth.models import User
from webapp.content.services import get_catalogue
from webapp.core.languages import direction

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Texts(HTMLParser):
    """Each text node of the body with the lang and dir of its nearest marked ancestor."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str | None, str | None]] = []
        self.nodes: list[tuple[str, str, str, tuple[str, ...]]] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        attrs = dict(attrs)
        self.stack.append((tag, attrs.get("lang"), attrs.get("dir")))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        text = " ".join(data.split())
        tags = tuple(t for t, _l, _d in self.stack)
        if not text or "body" not in tags or {"script", "style", "option", "title"} & set(tags):
            return
        lang = next((lang for _t, lang, _d in reversed(self.stack) if lang), None)
        direction_ = next((d for _t, _l, d in reversed(self.stack) if d), None)
        self.nodes.append((text, lang, direction_, tags))


def _foreign_texts(page_lang: str) -> dict[str, str]:
    """Content texts a reader of ``page_lang`` is shown in another language: {text: its language}."""
    catalogue = get_catalogue()
    found: dict[str, str] = {}

    def note(text):
        if text and len(text) >= 4 and text.lang != page_lang:
            found[str(text)] = text.lang

    for programme in catalogue.programmes.values():
        note(programme.title(page_lang))
        for module in programme.modules:
            if module.default_language in module.versions:
                note(module.version(page_lang)[0].title)
    for form in catalogue.forms.values():
        note(form.title(page_lang))
        shown = form.language_for(page_lang)
        for item in form.items:
            note(item.text(shown))
            for option in item.options:
                note(option.label(shown))
    return found


def _check_page(html: str, page_lang: str, foreign: dict[str, str], path: str) -> int:
    parser = _Texts()
    parser.feed(html)
    checked = 0
    for text, lang, dir_, _tags in parser.nodes:
        for fragment, fragment_lang in foreign.items():
            if fragment in text:
                assert (lang, dir_) == (fragment_lang, direction(fragment_lang)), \
                    f"{path}: {fragment!r} is in {fragment_lang} but marked {lang}/{dir_} (text {text!r})"
                checked += 1
    return checked


@pytest.fixture(params=["fa", "ar"])
def lang(request):
    return request.param


def _user(db, email):
    return db.session.scalars(select(User).filter_by(email=email)).one()


def test_every_page_type_marks_fragments_in_another_language(app, db, world, lang):  # noqa: F811
    foreign = _foreign_texts(lang)
    assert foreign, "the shipped content should have texts without a version in this language"
    checked = 0
    for who, paths in [("patient", PATIENT_PAGES), ("clinician", CLINICIAN_PAGES), ("editor", EDITOR_PAGES),
                       ("admin", ADMIN_PAGES)]:
        email = world[who] if who == "patient" else world[who][0]
        client = app.test_client()
        Auth(client, db).login(_user(db, email))
        for template in paths:
            path = template.format(**world)
            response = client.get(path)
            assert response.status_code == 200, path
            html = response.get_data(as_text=True)
            assert f'<html lang="{lang}" dir="rtl">' in html, path
            checked += _check_page(html, lang, foreign, path)
    # The pages really show such fragments (module titles, the Swedish PHQ-9, programme titles).
    assert checked >= 30
