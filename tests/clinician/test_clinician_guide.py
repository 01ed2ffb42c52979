"""Each programme's guide for the clinician (clinician_guide in programme.yaml): who it suits
and who not, how to follow up, what to do on a safety answer. Shown when access is opened and,
folded, on the enrolment page; checked like the rest of the content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from webapp.config import PROJECT_ROOT
from webapp.content.services import GUIDE_SECTIONS, get_catalogue, load_catalogue

GOOD = PROJECT_ROOT / "tests" / "content" / "fixtures" / "good"


@pytest.fixture
def unit(make):
    return make.unit(name="Vårdcentralen Ekbacken")


@pytest.fixture
def clinician(make, unit, auth):
    user = make.user("clinician", units=[unit], name="Elsa Exempel")
    auth.login(user)
    return user


def test_every_programme_for_patients_has_a_complete_guide_in_its_default_language(app):
    programmes = [p for p in get_catalogue().programmes.values() if not p.public]
    assert {p.id for p in programmes} >= {"pain-school", "act-long-term-pain"}
    for programme in programmes:
        lang, sections = programme.clinician_guide(programme.default_language)
        assert lang == programme.default_language and list(sections) == list(GUIDE_SECTIONS)
        assert all(len(str(html)) > 80 for html in sections.values()), programme.id
        assert "112" in str(sections["safety"]) and "PHQ-9" in str(sections["safety"])


@pytest.mark.parametrize("programme_id, words", [
    ("pain-school", ["Vem programmet passar", "Vem det inte passar", "Så följer du upp",
                     "Om patientens svar väcker oro för säkerheten", "dag 28", "självmordsrisk"]),
    ("act-long-term-pain", ["Vem programmet passar", "avsnittet om tankar", "självmordsrisk"]),
])
def test_the_guide_is_shown_when_opening_access(clinician, auth, programme_id, words):
    page = auth.post("/clinician/open", {"step": "1", "personal_number": "19811218-9876", "programme": programme_id},
                     "/clinician/open").get_data(as_text=True)
    assert 'name="step" value="2"' in page or 'value="2"' in page  # step 2, where the guide is
    start = page.index('class="card guide"')
    guide = page[start:page.index("<form", start)]
    assert all(word in guide for word in words), [w for w in words if w not in guide]


def test_the_guide_is_folded_on_the_enrolment_page(clinician, unit, client, make):
    enrolment = make.enrolment(make.user("patient"), unit, clinician)
    page = client.get(f"/clinician/enrolments/{enrolment.id}").get_data(as_text=True)
    assert '<details class="card guide">' in page and "Vägledning för behandlaren" in page
    assert "självmordsrisk" in page


def test_an_english_speaking_clinician_reads_the_english_guide(clinician, auth, db):
    clinician.locale = "en"
    db.session.commit()
    page = auth.post("/clinician/open", {"step": "1", "personal_number": "19811218-9876", "programme": "pain-school"},
                     "/clinician/open").get_data(as_text=True)
    assert "Who the programme suits" in page and "assess the suicide risk" in page


def test_content_check_names_a_guide_with_a_part_missing(tmp_path: Path):
    root = tmp_path / "tree"
    shutil.copytree(GOOD, root)
    path = root / "modules" / "demo" / "programme.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("    safety: Ring patienten samma dag.\n", ""),
                    encoding="utf-8")
    catalogue = load_catalogue(root / "modules", root / "media", root / "forms")
    line = next(n for n, text in enumerate(path.read_text(encoding="utf-8").split("\n"), 1)
                if text.startswith("clinician_guide:"))
    assert [str(p) for p in catalogue.errors if "clinician_guide" in p.message] == [
        f"{path}:{line}: the sv clinician_guide lacks safety — write one language per line below 'clinician_guide:', "
        "each with 'suits: |', 'not_suited: |', 'follow_up: |', 'safety: |' and the text below"]
    path.write_text(path.read_text(encoding="utf-8").split("clinician_guide:")[0], encoding="utf-8")
    catalogue = load_catalogue(root / "modules", root / "media", root / "forms")
    assert any(p.message == "the programme has no clinician_guide" for p in catalogue.warnings)
