"""The structure stays: imports go down the layers, no cycles, one linter, one clock."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.architecture.imports import RANKS, Import, group_cycles, group_of, imports_in, violations

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_goes_down_a_layer_or_stays_in_its_group():
    problems = violations(imports_in(ROOT))
    assert not problems, "imports against docs/architecture.md:\n" + "\n".join(problems)


def test_no_cycle_between_groups():
    assert group_cycles(imports_in(ROOT)) == []


def test_every_module_has_a_layer():
    for path in (ROOT / "webapp").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        group_of(name)  # raises for a package missing from RANKS


@pytest.mark.parametrize("importer, imported, why", [
    ("webapp.core.templating", "webapp.messages.views", "upward"),
    ("webapp.programme.services", "webapp.questionnaires.services", "upward"),
    ("webapp.careplan.services", "webapp.messages.services", "sideways"),
    ("webapp.auth.models", "webapp.programme.models", "upward"),
])
def test_the_checker_refuses_upward_and_sideways_imports(importer, imported, why):
    found = violations([Import(importer, imported, "x.py", 1)])
    assert len(found) == 1 and why in found[0]


def test_the_checker_finds_a_cycle():
    ranks = {"a": 1, "b": 1, "c": 2}
    edges = [Import("a.x", "b.y", "a/x.py", 1), Import("b.y", "a.z", "b/y.py", 3), Import("c.q", "a.x", "c/q.py", 2)]
    assert group_cycles(edges, ranks) == [["a", "b"]]


def test_downward_and_internal_imports_pass():
    assert violations([Import("webapp.clinician.views", "webapp.programme.enrolments", "x.py", 1),
                       Import("webapp.programme.views", "webapp.messages.services", "x.py", 1),
                       Import("webapp.programme.jobs", "webapp.programme.services", "x.py", 1)]) == []
    assert RANKS["webapp.programme.views"] > RANKS["webapp.messages"] > RANKS["webapp.programme"]


def test_stockholm_time_is_defined_once():
    """Swedish days and times come from core/dates.py only (one clock)."""
    offenders = []
    for path in (ROOT / "webapp").rglob("*.py"):
        if path.name == "dates.py" and path.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == "Europe/Stockholm":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_linter_finds_nothing():
    """ruff with the configuration in pyproject.toml: 0 findings."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_form_is_built_on_the_one_form_base():
    """Every Flask-WTF form derives from core.forms.Form (one idiom; WTForms' messages read once per language)."""
    from flask_wtf import FlaskForm
    from werkzeug.utils import import_string

    from webapp.core.forms import Form

    for path in (ROOT / "webapp").rglob("forms.py"):
        import_string(".".join(path.relative_to(ROOT).with_suffix("").parts))
    pending, offenders = list(FlaskForm.__subclasses__()), []
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("webapp.") and not issubclass(cls, Form):
            offenders.append(f"{cls.__module__}.{cls.__qualname__}")
    assert offenders == []


def test_wtforms_messages_follow_the_language(app):
    """The kept catalogues still answer in the reader's language."""
    from wtforms import StringField
    from wtforms.validators import DataRequired

    from webapp.core.forms import Form

    class Probe(Form):
        name = StringField(validators=[DataRequired()])

    from flask_babel import force_locale

    messages = {}
    for locale in ("sv", "en", "sv"):
        with app.test_request_context("/", method="POST"), force_locale(locale):
            form = Probe(meta={"csrf": False})
            form.validate()
            messages[locale] = form.name.errors[0]
    assert messages["en"] == "This field is required."
    assert messages["sv"] != messages["en"]
