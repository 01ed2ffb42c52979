"""bandit finds nothing in the application code; every accepted finding carries a
``# nosec`` with its reason on the line above."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bandit_is_clean():
    bandit = shutil.which("bandit", path=str(Path(sys.executable).parent)) or shutil.which("bandit")
    assert bandit, "bandit is part of the test dependencies"
    result = subprocess.run([bandit, "-q", "-r", "webapp", "-f", "custom", "--msg-template",
                             "{relpath}:{line} {test_id} {msg}"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_every_nosec_is_explained():
    unexplained = []
    for path in (ROOT / "webapp").rglob("*.py"):
        lines = path.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines):
            if "# nosec" in line and not (number and lines[number - 1].strip().startswith("# Bandit B")):
                unexplained.append(f"{path.relative_to(ROOT)}:{number + 1}")
    assert unexplained == []
