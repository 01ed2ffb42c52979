"""``flask --app webapp content check`` on good, broken and shipped content."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def _roots(name):
    root = FIXTURES / name
    return {"CONTENT_ROOT": str(root / "modules"), "MEDIA_ROOT": str(root / "media"), "FORMS_ROOT": str(root / "forms")}


@pytest.mark.parametrize("app_config", [_roots("broken")])
def test_check_fails_on_broken_content(runner):
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1
    assert "9 error(s):" in result.output
    assert "tests/content/fixtures/broken/modules/broken/unknown-directive/sv.md:8: unknown block 'quiz'" in result.output
    assert "warning(s):" in result.output


@pytest.mark.parametrize("app_config", [_roots("good")])
def test_check_passes_on_good_content_and_strict_counts_warnings(runner):
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 0, result.output
    assert "No errors." in result.output
    assert runner.invoke(args=["content", "check", "--strict"]).exit_code == 1


def test_check_passes_on_shipped_content(runner):
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 0, result.output
