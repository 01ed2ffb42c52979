"""The content catalogue: programmes read from content/modules/ once at start-up.

This module reads files, not the database, and runs without an app, so the
``content check`` command and the unit tests share one loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from webapp.config import PROJECT_ROOT

CONTENT_ROOT = PROJECT_ROOT / "content" / "modules"


@dataclass(frozen=True)
class Programme:
    id: str
    titles: dict[str, str]
    default_language: str
    languages: tuple[str, ...]
    recommended_days: int
    pace: str

    def title(self, locale: str) -> str:
        return self.titles.get(locale) or self.titles[self.default_language]


@dataclass
class Catalogue:
    programmes: dict[str, Programme] = field(default_factory=dict)
    # "file:line: message" for every problem found; the rest still loads.
    errors: list[str] = field(default_factory=list)

    def title(self, programme_id: str, locale: str) -> str:
        programme = self.programmes.get(programme_id)
        return programme.title(locale) if programme else programme_id


def load_catalogue(root: Path = CONTENT_ROOT) -> Catalogue:
    """Read every programme.yaml under ``root``; report problems with file and line."""
    catalogue = Catalogue()
    for path in sorted(root.glob("*/programme.yaml")):
        rel = path.relative_to(root.parent.parent) if root.is_relative_to(PROJECT_ROOT) else path
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
            catalogue.errors.append(f"{rel}:{line}: not valid YAML ({getattr(exc, 'problem', exc)})")
            continue
        problem = _check_programme(data, path.parent.name)
        if problem:
            catalogue.errors.append(f"{rel}:1: {problem}")
            continue
        catalogue.programmes[data["id"]] = Programme(
            id=data["id"],
            titles=dict(data["title"]),
            default_language=data["default_language"],
            languages=tuple(data["languages"]),
            recommended_days=int(data["recommended_days"]),
            pace=data["pace"],
        )
    return catalogue


def _check_programme(data, folder: str) -> str | None:
    if not isinstance(data, dict):
        return "the file must be a mapping of keys to values"
    for key in ("id", "title", "default_language", "languages", "recommended_days", "pace"):
        if key not in data:
            return f"missing key {key!r}"
    if data["id"] != folder:
        return f"id {data['id']!r} must equal the folder name {folder!r}"
    if data["pace"] not in {"all-open", "weekly"}:
        return "pace must be all-open or weekly"
    if not isinstance(data["title"], dict) or data["default_language"] not in data["title"]:
        return "title needs a text for the default language"
    if not isinstance(data["recommended_days"], int) or data["recommended_days"] <= 0:
        return "recommended_days must be a positive whole number"
    return None


def init_catalogue(app) -> None:
    """Load the catalogue once; requests read it from memory."""
    app.extensions["lotsa_catalogue"] = load_catalogue(Path(app.config.get("CONTENT_ROOT") or CONTENT_ROOT))
    for problem in app.extensions["lotsa_catalogue"].errors:
        app.logger.warning("content: %s", problem)


def get_catalogue() -> Catalogue:
    from flask import current_app

    return current_app.extensions["lotsa_catalogue"]
