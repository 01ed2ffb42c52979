"""Editing content in the browser: drafts, review by a second editor, release, history and revert.

Every test works on a temporary copy of the content tree (the app_config
fixture below), so nothing is ever written into the repository's content/.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fixtures.plugin import csrf_token_from
from webapp.editor.models import ContentDraft, ContentRelease, ContentRevision

ROOT = Path(__file__).resolve().parents[2]
FILE = "pain-school/pain-physiology/sv.md"
EDIT = "/content/edit/pain-school/pain-physiology/sv"
OLD = "## Välkommen till smärtskolan"
NEW = "## Välkommen till den nya smärtskolan"


@pytest.fixture
def app_config(tmp_path):
    copy = tmp_path / "content"
    shutil.copytree(ROOT / "content", copy)
    return {"CONTENT_ROOT": str(copy / "modules"), "FORMS_ROOT": str(copy / "forms")}


def _post(client, url, data, token_url):
    token = csrf_token_from(client.get(token_url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def _save(client, text, message="new welcome heading", url=EDIT):
    return _post(client, url, {"text": text, "message": message, "action": "save"}, url)


def _draft_id(response) -> int:
    return int(re.search(r"/content/drafts/(\d+)$", response.location).group(1))


def test_draft_diff_approve_live_then_revert_puts_the_old_text_back(app, client, auth, make, db):
    first, second = make.user("editor", name="Eva Editor"), make.user("editor", name="Olle Granskare")
    unit = make.unit()
    patient = make.user("patient")
    enrolment = make.enrolment(patient, unit)
    live = Path(app.config["CONTENT_ROOT"]) / FILE
    original = live.read_text(encoding="utf-8")

    auth.login(first)
    page = client.get(EDIT).get_data(as_text=True)
    assert OLD in page and "Problem" not in page.split("editor-problems")[0][-50:]
    saved = _save(client, original.replace(OLD, NEW))
    assert saved.status_code == 302
    draft_id = _draft_id(saved)
    # The author cannot approve their own draft, and the file is unchanged.
    refused = _post(client, f"/content/drafts/{draft_id}/approve", {}, f"/content/drafts/{draft_id}")
    assert refused.status_code == 302
    assert "en annan redaktör" in client.get(f"/content/drafts/{draft_id}").get_data(as_text=True).lower()
    assert live.read_text(encoding="utf-8") == original
    auth.logout()

    auth.login(second)
    review = client.get(f"/content/drafts/{draft_id}").get_data(as_text=True)
    assert f"-{OLD}" in review and f"+{NEW}" in review  # the diff against the live text
    approved = _post(client, f"/content/drafts/{draft_id}/approve", {}, f"/content/drafts/{draft_id}")
    assert approved.status_code == 302
    assert NEW in live.read_text(encoding="utf-8")
    release = db.session.scalar(select(ContentRelease).order_by(ContentRelease.id.desc()))
    assert release.status == "released" and release.created_by_id == second.id
    revision = db.session.scalar(select(ContentRevision).where(ContentRevision.path == FILE))
    assert (revision.author_id, revision.approved_by_id, revision.release_id) == (first.id, second.id, release.id)
    history = client.get("/content/history/pain-school/pain-physiology/sv").get_data(as_text=True)
    assert "Eva Editor" in history and "Olle Granskare" in history and "new welcome heading" in history
    assert client.get("/content/").get_data(as_text=True).count(release.label) >= 1
    auth.logout()

    auth.login(patient)
    module = client.get(f"/e/{enrolment.id}/pain-physiology/1").get_data(as_text=True)
    assert "Välkommen till den nya smärtskolan" in module
    auth.logout()

    # Revert: a draft with the earlier text, approved by the other editor.
    auth.login(second)
    reverted = _post(client, f"/content/revisions/{revision.id}/revert", {},
                     "/content/history/pain-school/pain-physiology/sv")
    revert_id = _draft_id(reverted)
    auth.logout()
    auth.login(first)
    _post(client, f"/content/drafts/{revert_id}/approve", {}, f"/content/drafts/{revert_id}")
    assert live.read_text(encoding="utf-8") == original
    auth.logout()
    auth.login(patient)
    module = client.get(f"/e/{enrolment.id}/pain-physiology/1").get_data(as_text=True)
    assert "Välkommen till smärtskolan" in module and "den nya" not in module


def test_problems_show_their_line_and_a_draft_with_errors_cannot_go_live(app, client, auth, make, db):
    first, second = make.user("editor"), make.user("editor")
    live = Path(app.config["CONTENT_ROOT"]) / FILE
    original = live.read_text(encoding="utf-8")
    broken = re.sub(r"^version: \d+$", "version: many", original, count=1, flags=re.M)
    auth.login(first)
    checked = _post(client, EDIT, {"text": broken, "action": "check"}, EDIT).get_data(as_text=True)
    assert "Rad 6" in checked and "version must be a whole number" in checked
    assert "docs/authoring.md" not in checked and "/content/help" in checked
    draft_id = _draft_id(_save(client, broken))
    auth.logout()
    auth.login(second)
    _post(client, f"/content/drafts/{draft_id}/approve", {}, f"/content/drafts/{draft_id}")
    assert live.read_text(encoding="utf-8") == original
    assert db.session.get(ContentDraft, draft_id).status == "open"
    assert db.session.scalar(select(ContentRelease)) is None


def test_a_draft_made_stale_by_another_approval_is_refused(app, client, auth, make, db):
    a, b, c = make.user("editor"), make.user("editor"), make.user("editor")
    live = Path(app.config["CONTENT_ROOT"]) / FILE
    original = live.read_text(encoding="utf-8")
    auth.login(a)
    one = _draft_id(_save(client, original.replace(OLD, NEW)))
    auth.logout()
    auth.login(b)
    two = _draft_id(_save(client, original + "\nEn rad till.\n"))
    _post(client, f"/content/drafts/{one}/approve", {}, f"/content/drafts/{one}")
    auth.logout()
    auth.login(c)
    _post(client, f"/content/drafts/{two}/approve", {}, f"/content/drafts/{two}")
    text = live.read_text(encoding="utf-8")
    assert NEW in text and "En rad till." not in text  # the first change is not silently undone


def test_a_new_module_from_the_template_and_a_new_translation(app, client, auth, make, db):
    first, second = make.user("editor"), make.user("editor")
    root = Path(app.config["CONTENT_ROOT"])
    auth.login(first)
    created = _post(client, "/content/new/pain-school", {"module_id": "sleep-and-rest", "title": "Sömn och vila"},
                    "/content/new/pain-school")
    assert created.status_code == 302
    draft = db.session.scalar(select(ContentDraft).where(ContentDraft.path == "pain-school/sleep-and-rest/sv.md"))
    page = client.get(created.location).get_data(as_text=True)
    assert "Sömn och vila" in page and "Inga problem hittades" in page
    # A translation starts from the source text, marked as translating its version.
    translation = client.get("/content/edit/pain-school/closing/fa").get_data(as_text=True)
    closing = re.search(r"^version: (\d+)$", (root / "pain-school" / "closing" / "sv.md").read_text(encoding="utf-8"),
                        re.M).group(1)
    assert f"translates: {closing}" in translation and "Avslutning och plan framåt" in translation
    auth.logout()
    auth.login(second)
    _post(client, f"/content/drafts/{draft.id}/approve", {}, f"/content/drafts/{draft.id}")
    assert (root / "pain-school" / "sleep-and-rest" / "sv.md").is_file()
    assert "  - sleep-and-rest" in (root / "pain-school" / "programme.yaml").read_text(encoding="utf-8")
    index = client.get("/content/").get_data(as_text=True)
    assert "Sömn och vila" in index


@pytest.mark.parametrize("path", ["/content/edit/pain-school/nope/sv", "/content/edit/pain-school/closing/xx",
                                  "/content/edit/nope/closing/sv", "/content/drafts/999", "/content/new/nope",
                                  "/content/history/pain-school/nope/sv"])
def test_unknown_files_and_drafts_are_404(client, auth, make, path):
    auth.login(make.user("editor"))
    assert client.get(path).status_code == 404
