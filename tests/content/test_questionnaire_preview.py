"""Editors preview every questionnaire in every language, with its rules, and try it without storing anything."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.extensions import db as _db


def _row_counts(db) -> dict[str, int]:
    """Rows in every table of the schema: "stores nothing" means none of these moves."""
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in _db.metadata.sorted_tables}


@pytest.mark.parametrize("lang", ["sv", "en", "ar", "fa"])
def test_every_questionnaire_previews_in_every_language_with_its_rules(client, auth, make, lang):
    from webapp.content.services import get_catalogue

    auth.login(make.user("editor", locale=lang))
    index = client.get("/content/questionnaires/").get_data(as_text=True)
    for form_id in get_catalogue().forms:
        assert f"/content/questionnaires/{form_id}/{lang}" in index
        response = client.get(f"/content/questionnaires/{form_id}/{lang}")
        assert response.status_code == 200, form_id
    html = client.get(f"/content/questionnaires/phq-9/{lang}").get_data(as_text=True)
    assert "q9" in html and "20–27" in html  # the safety item and the top band


def test_the_preview_shows_scoring_bands_and_safety_rule_in_swedish(client, auth, make):
    auth.login(make.user("editor"))
    html = client.get("/content/questionnaires/phq-9/sv").get_data(as_text=True)
    assert "Summan av svaren" in html and "Måttligt svår" in html and "Säkerhetsregel" in html
    assert "Svaret 1 eller högre på q9 öppnar ett säkerhetslarm" in html
    # Arabic has no version: the editor sees what an Arabic reader is shown, and the note they get.
    arabic = client.get("/content/questionnaires/phq-9/ar").get_data(as_text=True)
    assert "Patienten ser den här upplysningen:" in arabic


def test_try_it_scores_and_stores_nothing(client, auth, make, db):
    auth.login(make.user("editor"))
    before = _row_counts(db)
    answers = {f"q{n}": "3" for n in range(1, 10)}
    response = auth.post("/content/questionnaires/phq-9/sv", answers, "/content/questionnaires/phq-9/sv")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert ">27<" in html and "Svår" in html and "Uppfylld: en patients svar skulle öppna ett säkerhetslarm (q9)." in html
    assert _row_counts(db) == before


def test_try_it_with_an_answer_missing_says_so_and_keeps_the_rest(client, auth, make, db):
    auth.login(make.user("editor"))
    before = _row_counts(db)
    answers = {f"q{n}": "1" for n in range(1, 9)}  # q9 left out
    response = auth.post("/content/questionnaires/phq-9/sv", answers, "/content/questionnaires/phq-9/sv")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'href="#item-q9"' in html
    assert 'id="q1-1" name="q1" value="1" checked' in html
    assert _row_counts(db) == before


def test_unknown_questionnaires_and_languages_are_not_found(client, auth, make):
    auth.login(make.user("editor"))
    assert client.get("/content/questionnaires/nope/sv").status_code == 404
    assert client.get("/content/questionnaires/phq-9/de").status_code == 404


def test_coverage_is_against_every_interface_language_by_name(client, auth, make, app):
    from webapp.content.services import get_catalogue

    auth.login(make.user("editor"))
    html = client.get("/content/").get_data(as_text=True)
    names = {"sv": "Svenska", "en": "Engelska", "ar": "Arabiska", "fa": "Persiska"}
    for programme in get_catalogue().programmes.values():
        start = html.index(f'id="programme-{programme.id}"')
        section = html[start:html.index("</section>", start)]
        # Every interface language is a column, by name, whether the programme lists it or not.
        for lang in app.config["LANGUAGES"]:
            assert f'<th scope="col">{names[lang]}</th>' in section
            missing = sum(1 for m in programme.modules if m.coverage(lang) == "missing")
            line = section[section.index(f"<strong>{names[lang]}</strong>"):].split("</li>")[0]
            assert (f"{missing} saknas" in line) if missing else ("saknas" not in line), (programme.id, lang, line)
        assert ">fa<" not in section and ">ar<" not in section


def test_a_translation_is_stale_when_its_source_text_changed_since_its_source_hash(tmp_path):
    from webapp.content.parser import body_hash
    from webapp.content.services import Module, ModuleVersion

    def version(lang, body, **kw):
        return ModuleVersion(lang=lang, path=f"{lang}.md", title="T", description="", minutes=None, kind="normal",
                             version=kw.pop("version", 1), translates=kw.pop("translates", None), pages=[],
                             answer_blocks=[], problems=[], body_hash=body_hash(body), **kw)

    source = "## Rubrik\n\nText om smärta.\n"
    module = Module(id="m", programme_id="p", position=1, default_language="sv")
    module.versions["sv"] = version("sv", source)
    module.versions["en"] = version("en", "## Heading", translates=1, source_hash=body_hash(source))
    module.versions["ar"] = version("ar", "## عنوان", translates=1)  # no fingerprint: versions only
    assert module.coverage("en") == "complete" and module.coverage("ar") == "complete"
    # Trailing spaces and Windows line ends are not a change; a word is.
    module.versions["sv"] = version("sv", source.replace("\n", "  \r\n"))
    assert module.coverage("en") == "complete"
    module.versions["sv"] = version("sv", source.replace("smärta", "långvarig smärta"))
    assert module.coverage("en") == "stale" and module.stale_reason("en") == "text"
    assert module.coverage("ar") == "complete"  # nothing recorded to compare with
    module.versions["sv"] = version("sv", source, version=2)
    assert module.stale_reason("ar") == "version" and module.coverage("missing") == "missing"


def test_source_hash_in_the_front_matter_is_read_and_checked():
    from webapp.content.parser import parse_module_file

    good = parse_module_file("---\ntitle: T\ntranslates: 1\nsource_hash: 3F2A9C0B1D4E\n---\n\nText\n", "en.md")
    assert good.meta["source_hash"] == "3f2a9c0b1d4e" and not good.problems
    bad = parse_module_file("---\ntitle: T\nsource_hash: not-hex\n---\n\nText\n", "en.md")
    assert [(p.line, "source_hash" in p.message) for p in bad.problems] == [(3, True)]  # the file's line 3
