"""Sharing a questionnaire between installations: export a bundle, import it with a dry run that names every
problem as file:line before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.config import PROJECT_ROOT
from webapp.content.sharing import SharingError, export_bundle

REAL_FORMS = PROJECT_ROOT / "content" / "forms"


@pytest.fixture
def target(app, tmp_path) -> Path:
    """The other installation's content/forms (empty but for what the test puts there)."""
    forms = tmp_path / "forms"
    forms.mkdir()
    app.config["FORMS_ROOT"] = str(forms)
    return forms


def _bundle(tmp_path, form_id="managing-pain", rename=None) -> Path:
    text = export_bundle(REAL_FORMS, form_id)
    if rename:
        text = text.replace(f"id: {form_id}\n", f"id: {rename}\n")
    path = tmp_path / "bundle.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_export_then_dry_run_then_import(runner, target, tmp_path):
    bundle = _bundle(tmp_path, rename="our-pain")
    text = bundle.read_text(encoding="utf-8")
    assert "licence: free" in text and "Lotsa's own question" in text and "fa: کنار آمدن با درد" in text
    result = runner.invoke(args=["content", "import-form", str(bundle), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run: would add" in result.output and "languages ar, en, fa, sv" in result.output
    assert list(target.iterdir()) == []
    result = runner.invoke(args=["content", "import-form", str(bundle)])
    assert result.exit_code == 0 and (target / "our-pain.yaml").is_file()
    installed = (target / "our-pain.yaml").read_text(encoding="utf-8")
    assert installed == (REAL_FORMS / "managing-pain.yaml").read_text(encoding="utf-8").replace(
        "id: managing-pain\n", "id: our-pain\n")
    again = runner.invoke(args=["content", "import-form", str(bundle)])
    assert again.exit_code == 0 and "already this questionnaire" in again.output


def test_problems_are_reported_at_their_bundle_line_and_nothing_is_written(runner, target, tmp_path):
    bundle = _bundle(tmp_path)
    lines = bundle.read_text(encoding="utf-8").split("\n")
    bad = next(n for n, line in enumerate(lines, 1) if "type: scale" in line)
    lines[bad - 1] = lines[bad - 1].replace("type: scale", "type: slider")
    bundle.write_text("\n".join(lines), encoding="utf-8")
    result = runner.invoke(args=["content", "import-form", str(bundle), "--dry-run"])
    assert result.exit_code == 1
    assert f"{bundle}:{bad}: item 'q1' has the unknown type 'slider'" in result.output
    assert "nothing was changed" in result.output and list(target.iterdir()) == []

    bundle.write_text("bundle: lotsa-questionnaire/1\nid: [oops\n", encoding="utf-8")
    result = runner.invoke(args=["content", "import-form", str(bundle), "--dry-run"])
    assert result.exit_code == 1 and f"{bundle}:3: the bundle is not readable YAML" in result.output
    bundle.write_text("just: a file\n", encoding="utf-8")
    result = runner.invoke(args=["content", "import-form", str(bundle)])
    assert result.exit_code == 1 and f"{bundle}:1: this is not a Lotsa questionnaire bundle" in result.output
    assert list(target.iterdir()) == []


def test_a_different_local_questionnaire_is_never_overwritten(runner, target, tmp_path):
    (target / "managing-pain.yaml").write_text("id: managing-pain\n# ours\n", encoding="utf-8")
    bundle = _bundle(tmp_path)
    result = runner.invoke(args=["content", "import-form", str(bundle)])
    id_line = bundle.read_text(encoding="utf-8").split("\n").index("id: managing-pain") + 1
    assert result.exit_code == 1 and f"{bundle}:{id_line}: this installation already has a different" in result.output
    assert (target / "managing-pain.yaml").read_text(encoding="utf-8") == "id: managing-pain\n# ours\n"


def test_licensed_instruments_travel_as_skeletons_only(runner, target, tmp_path):
    bundle = _bundle(tmp_path, "hads")
    assert "licence: licence-required" in bundle.read_text(encoding="utf-8")
    assert runner.invoke(args=["content", "import-form", str(bundle)]).exit_code == 0
    # A unit's licensed copy with its texts added stays with the unit.
    licensed = tmp_path / "licensed"
    licensed.mkdir()
    text = (REAL_FORMS / "eq-vas.yaml").read_text(encoding="utf-8")
    (licensed / "eq-vas.yaml").write_text(text, encoding="utf-8")
    assert export_bundle(licensed, "eq-vas")  # a skeleton exports
    mine = (REAL_FORMS / "managing-pain.yaml").read_text(encoding="utf-8").replace(
        "licence: free", "licence: licence-required")
    (licensed / "managing-pain.yaml").write_text(mine, encoding="utf-8")
    with pytest.raises(SharingError, match="licensed instrument with its texts"):
        export_bundle(licensed, "managing-pain")
    with pytest.raises(SharingError, match="no questionnaire"):
        export_bundle(licensed, "../eq-vas")
