"""Questionnaire templates shared between units and installations, as one bundle file.

A bundle is a small YAML file: what it is, where the wording comes from (the
licence and each language's source), and the definition itself as a block, byte
for byte as it stands in content/forms. Because the definition is a literal block,
a problem on line N of it is on a known line of the bundle, so every problem of
an import is reported as ``bundle:line`` before anything is written.

Licensed instruments travel as skeletons only: their texts belong to a unit's
licence, not to the next installation.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from webapp.content.parser import Problem
from webapp.content.questionnaires import Questionnaire, load_questionnaires

FORMAT = "lotsa-questionnaire/1"
FORM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class SharingError(Exception):
    """A questionnaire that cannot be exported; the message says why."""


def _indent(text: str) -> str:
    return "".join(f"  {line}" if line.strip() else "\n" for line in text.splitlines(keepends=True))


def export_bundle(forms_root: Path, form_id: str) -> str:
    """The bundle of one questionnaire in ``forms_root``, checked first; SharingError if it cannot travel."""
    path = forms_root / f"{form_id}.yaml"
    if not FORM_ID.match(form_id) or not path.is_file():
        raise SharingError(f"there is no questionnaire {form_id!r} in {forms_root}")
    forms, problems = load_questionnaires(forms_root)
    own = [p for p in problems if Path(p.path).name == path.name and p.severity == "error"]
    if own or form_id not in forms:
        raise SharingError("the questionnaire has problems; run 'flask content check' and fix them first:\n"
                           + "\n".join(f"  {p}" for p in own))
    form = forms[form_id]
    if form.licence != "free" and any(i.texts for i in form.items):
        raise SharingError(f"{form_id!r} is a licensed instrument with its texts added: the texts are your unit's "
                           "under its licence; share the skeleton (the file without item texts) instead")
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    header = {"bundle": FORMAT, "id": form_id, "licence": form.licence,
              "languages": sorted(form.versions) or sorted({lang for i in form.items for lang in i.texts}),
              "sources": {lang: version.source for lang, version in sorted(form.versions.items())},
              "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return ("# A Lotsa questionnaire, to import with: flask content import-form FILE --dry-run\n"
            + yaml.safe_dump(header, allow_unicode=True, sort_keys=False) + "definition: |\n" + _indent(text))


@dataclass
class ImportCheck:
    form_id: str | None
    definition: str | None
    form: Questionnaire | None
    problems: list[Problem]
    # "new", "same" (already installed as it is) or None when there are problems.
    outcome: str | None = None


def check_bundle(text: str, name: str, forms_root: Path) -> ImportCheck:
    """Everything wrong with a bundle for this installation, each as ``name:line``; nothing is written."""
    problems: list[Problem] = []

    def problem(line: int, message: str, fix: str = "") -> ImportCheck:
        problems.append(Problem(name, line, message, fix))
        return ImportCheck(None, None, None, problems)

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return problem(mark.line + 1 if mark else 1, f"the bundle is not readable YAML ({getattr(exc, 'problem', exc)})",
                       "export the bundle again; do not edit it by hand")
    if not isinstance(data, dict) or data.get("bundle") != FORMAT:
        return problem(1, f"this is not a Lotsa questionnaire bundle ({FORMAT})",
                       "export it with 'flask content export-form ID'")
    lines = text.split("\n")
    start = next((n for n, line in enumerate(lines, 1) if line.startswith("definition:")), None)
    form_id, definition = data.get("id"), data.get("definition")
    id_line = next((n for n, line in enumerate(lines, 1) if line.startswith("id:")), 1)
    if not isinstance(form_id, str) or not FORM_ID.match(form_id):
        return problem(id_line, f"the id {form_id!r} is not lower-case letters, digits and hyphens")
    if not isinstance(definition, str) or start is None:
        return problem(start or 1, "the bundle has no definition", "export the bundle again")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{form_id}.yaml"
        path.write_text(definition, encoding="utf-8")
        forms, found = load_questionnaires(Path(folder))
    # A problem on line N of the definition is on line start + N of the bundle.
    problems += [Problem(name, start + p.line, p.message, p.fix, p.severity) for p in found]
    form = forms.get(form_id)
    if form is not None:
        licence_line = next((n for n, line in enumerate(lines, 1) if line.startswith("licence:")), 1)
        if data.get("licence") != form.licence:
            problem(licence_line, f"the bundle says licence {data.get('licence')!r} but the definition says "
                    f"{form.licence!r}", "export the bundle again")
        if form.licence != "free" and any(i.texts for i in form.items):
            problem(start, "a licensed instrument with its texts cannot be imported",
                    "import the skeleton and add the texts under your own licence")
    existing = forms_root / f"{form_id}.yaml"
    outcome = None
    if existing.exists():
        if existing.read_text(encoding="utf-8") == definition:
            outcome = "same"
        else:
            problem(id_line, f"this installation already has a different questionnaire {form_id!r} ({existing})",
                    "compare the two; remove or rename the local file if the bundle should replace it")
    errors = [p for p in problems if p.severity == "error"]
    if not errors and form is not None and outcome is None:
        outcome = "new"
    return ImportCheck(form_id, definition, form if not errors else None, problems, outcome if not errors else None)


def install(check: ImportCheck, forms_root: Path) -> Path:
    """Write a checked bundle's definition into ``forms_root`` (only after check_bundle found no errors)."""
    if check.outcome != "new" or check.definition is None:
        raise SharingError("only a checked, new questionnaire can be installed")
    path = forms_root / f"{check.form_id}.yaml"
    path.write_text(check.definition, encoding="utf-8")
    return path
