"""Releases: `flask content release`, refusal of content with errors, and a worker's swap to a new release."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from webapp.content.services import get_catalogue
from webapp.editor.models import ContentRelease
from webapp.editor.services import ReleaseWatch

ROOT = Path(__file__).resolve().parents[2]
MODULE = "pain-school/pain-physiology/sv.md"


@pytest.fixture
def app_config(tmp_path):
    copy = tmp_path / "content"
    shutil.copytree(ROOT / "content", copy)
    return {"CONTENT_ROOT": str(copy / "modules"), "FORMS_ROOT": str(copy / "forms")}


def _title(app) -> str:
    return str(app.extensions["lotsa_catalogue"].programmes["pain-school"].modules[0].versions["sv"].title)


def test_release_command_records_a_release_and_refuses_errors(app, runner, db):
    first = runner.invoke(args=["content", "release", "--note", "first"])
    assert first.exit_code == 0, first.output
    assert "is live" in first.output
    same = runner.invoke(args=["content", "release"])
    assert same.exit_code == 0
    assert db.session.scalar(select(db.func.count()).select_from(ContentRelease)) == 1  # nothing changed
    broken = Path(app.config["CONTENT_ROOT"]) / MODULE
    broken.write_text(re.sub(r"^version: \d+$", "version: two", broken.read_text(encoding="utf-8"), count=1,
                             flags=re.M), encoding="utf-8")
    refused = runner.invoke(args=["content", "release"])
    assert refused.exit_code == 1
    assert "refused" in refused.output and f"{MODULE}:6" in refused.output
    rows = db.session.scalars(select(ContentRelease).order_by(ContentRelease.id)).all()
    assert [r.status for r in rows] == ["released", "refused"] and rows[1].error_count == 1


def test_a_worker_swaps_to_a_new_release_and_keeps_the_old_one_when_the_files_have_errors(app, runner, db):
    watch = ReleaseWatch(app, interval=1)
    assert runner.invoke(args=["content", "release"]).exit_code == 0
    before = app.extensions["lotsa_catalogue"]
    watch.check(wait=True)
    assert app.extensions["lotsa_catalogue"] is before and before.release.startswith("R1-")  # same files: tagged
    module = Path(app.config["CONTENT_ROOT"]) / MODULE
    original = module.read_text(encoding="utf-8")
    module.write_text(original.replace("title: Introduktion och smärtfysiologi", "title: Ny rubrik"),
                      encoding="utf-8")
    assert runner.invoke(args=["content", "release"]).exit_code == 0
    assert _title(app) == "Introduktion och smärtfysiologi"  # nothing changes until the worker looks
    watch.check(wait=True)
    assert _title(app) == "Ny rubrik" and app.extensions["lotsa_catalogue"].release.startswith("R2-")
    # Files that differ from the live release (changed without a release) are not swapped in.
    module.write_text(original, encoding="utf-8")
    watch.check(wait=True)
    assert _title(app) == "Ny rubrik"
    with app.test_request_context():
        assert get_catalogue().release.startswith("R2-")


def test_answers_record_the_release_they_were_given_in(app, client, auth, make, db, runner):
    from webapp.programme.models import Answer, AnswerVersion

    assert runner.invoke(args=["content", "release"]).exit_code == 0
    ReleaseWatch(app, interval=1).check(wait=True)
    label = app.extensions["lotsa_catalogue"].release
    patient = make.user("patient")
    enrolment = make.enrolment(patient, make.unit())
    module = get_catalogue().programmes["pain-school"].published_modules[0]
    block = next(b for kind, b, _n in module.answer_ids() if kind == "reflection")
    auth.login(patient)
    auth.post(f"/e/{enrolment.id}/answers/{block}", {"text": "Det hjälper att gå ut.", "base_version": "0"},
              token_url=f"/e/{enrolment.id}/{module.id}/1")
    answer = db.session.scalar(select(Answer).where(Answer.enrolment_id == enrolment.id))
    assert answer.content_release == label
    assert db.session.scalar(select(AnswerVersion.content_release).where(AnswerVersion.answer_id == answer.id)) == label
    summary = client.get(f"/e/{enrolment.id}/summary").get_data(as_text=True)
    assert label in summary
