"""The content catalogue: programmes, modules and media read from files once.

``load_catalogue()`` reads ``content/modules`` and ``media/``, parses every
Markdown file and checks everything that spans files (module order, ids across
languages, media references, links). It runs without an app, so the ``content
check`` command and the unit tests share it. The app keeps one catalogue in
memory; requests never parse Markdown.

A module with errors in its default language is left out for patients, but
stays in the catalogue so editors see it, with its problems, in the preview.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from markupsafe import Markup

from webapp.config import PROJECT_ROOT
from webapp.content.parser import ID_RE, ParsedFile, Problem, load_yaml, parse_module_file
from webapp.content.questionnaires import load_questionnaires
from webapp.core.markdown import render_markdown

CONTENT_ROOT = PROJECT_ROOT / "content" / "modules"
MEDIA_ROOT = PROJECT_ROOT / "media"
FORMS_ROOT = PROJECT_ROOT / "content" / "forms"

MEDIA_KINDS = {"audio", "video", "image"}
MEDIA_TYPES = {
    ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".m4a": "audio/mp4", ".mp4": "video/mp4",
    ".webm": "video/webm", ".vtt": "text/vtt", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".svg": "image/svg+xml", ".webp": "image/webp",
}


@dataclass
class MediaFile:
    src: str
    captions: str | None = None
    transcript_html: Markup | None = None


@dataclass
class Media:
    id: str
    kind: str
    folder: Path
    files: dict[str, MediaFile]
    poster: str | None = None
    # Every file name of this media item that may be served.
    servable: frozenset[str] = frozenset()
    programmes: set[str] = field(default_factory=set)

    def for_language(self, lang: str, fallback: str) -> tuple[MediaFile | None, str]:
        for candidate in (lang, fallback, "all"):
            if candidate in self.files:
                return self.files[candidate], candidate
        return None, lang


@dataclass
class ModuleVersion:
    lang: str
    path: str
    title: str
    description: str
    minutes: int | None
    kind: str
    version: int
    translates: int | None
    pages: list
    answer_blocks: list
    problems: list[Problem]

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


@dataclass
class Module:
    id: str
    programme_id: str
    position: int  # 1-based place in the programme's order
    default_language: str
    versions: dict[str, ModuleVersion] = field(default_factory=dict)

    @property
    def is_publishable(self) -> bool:
        """Patients see the module only if its default language has no errors."""
        default = self.versions.get(self.default_language)
        return default is not None and not default.has_errors

    def version(self, lang: str) -> tuple[ModuleVersion, bool]:
        """The version in ``lang`` if it is usable, else the default (and True = fallback)."""
        wanted = self.versions.get(lang)
        if wanted is not None and not wanted.has_errors:
            return wanted, False
        return self.versions[self.default_language], lang != self.default_language

    @property
    def kind(self) -> str:
        return self.versions[self.default_language].kind

    def answer_ids(self) -> list[tuple[str, str, int]]:
        """(kind, id, item count) of the module's answer blocks, in reading order."""
        version = self.versions[self.default_language]
        return [(kind, block_id, items) for kind, block_id, _line, items in version.answer_blocks]

    def coverage(self, lang: str) -> str:
        """complete / missing / stale / error for one language (the editor's table)."""
        version = self.versions.get(lang)
        if version is None:
            return "missing"
        if version.has_errors:
            return "error"
        if lang != self.default_language:
            source = self.versions.get(self.default_language)
            if source and version.translates is not None and version.translates < source.version:
                return "stale"
        return "complete"


@dataclass
class Programme:
    id: str
    titles: dict[str, str]
    descriptions: dict[str, str]
    default_language: str
    languages: tuple[str, ...]
    recommended_days: int
    pace: str
    modules: list[Module] = field(default_factory=list)
    path: str = ""
    # The clinician's default welcome text (Markdown) per language.
    welcome: dict[str, str] = field(default_factory=dict)
    # Questionnaires sent automatically: (form id, "start" or "end").
    # (form id, "start" | "end" | days after the start)
    measures: list[tuple[str, str | int]] = field(default_factory=list)

    def title(self, locale: str) -> str:
        return self.titles.get(locale) or self.titles[self.default_language]

    def description(self, locale: str) -> str:
        return self.descriptions.get(locale) or self.descriptions.get(self.default_language, "")

    @property
    def published_modules(self) -> list[Module]:
        return [m for m in self.modules if m.is_publishable]

    def module(self, module_id: str) -> Module | None:
        return next((m for m in self.modules if m.id == module_id), None)


@dataclass
class Catalogue:
    programmes: dict[str, Programme] = field(default_factory=dict)
    media: dict[str, Media] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Questionnaire definitions from content/forms (see webapp.questionnaires).
    forms: dict = field(default_factory=dict)
    signature: tuple = ()
    load_seconds: float = 0.0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def title(self, programme_id: str, locale: str) -> str:
        programme = self.programmes.get(programme_id)
        return programme.title(locale) if programme else programme_id

    def problems_in(self, path_prefix: str) -> list[Problem]:
        return [p for p in self.problems if p.path.startswith(path_prefix)]


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _yaml_file(path: Path, problems: list[Problem]) -> dict | None:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(Problem(_rel(path), (mark.line + 1) if mark else 1,
                                f"not valid YAML ({getattr(exc, 'problem', exc)})",
                                "write each setting as 'name: value'; indent lists and maps consistently"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(_rel(path), 1, "the file must be 'name: value' settings"))
        return None
    return data


def content_signature(*roots: Path) -> tuple:
    """Changes when any content or media file is added, removed or edited."""
    newest, count = 0.0, 0
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                count += 1
                newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
    return (newest, count)


def load_catalogue(root: Path = CONTENT_ROOT, media_root: Path = MEDIA_ROOT,
                   forms_root: Path = FORMS_ROOT) -> Catalogue:
    """Read, parse and check all content; problems are collected, never raised."""
    started = time.perf_counter()
    catalogue = Catalogue(signature=content_signature(root, media_root, forms_root))
    catalogue.media = _load_media(media_root, catalogue.problems)
    catalogue.forms, form_problems = load_questionnaires(forms_root)
    catalogue.problems.extend(form_problems)
    form_ids = set(catalogue.forms)
    for path in sorted(root.glob("*/programme.yaml")):
        programme = _load_programme(path, catalogue, form_ids)
        if programme is not None:
            catalogue.programmes[programme.id] = programme
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []:
        if not (folder / "programme.yaml").exists():
            catalogue.problems.append(Problem(_rel(folder), 1, "the folder has no programme.yaml",
                                              "add a programme.yaml (see docs/authoring.md) or move the folder away"))
    catalogue.load_seconds = time.perf_counter() - started
    return catalogue


HEADING_RE = re.compile(r"<(/?)h([1-6])>")


def _demote_headings(html: Markup) -> Markup:
    """Transcripts sit inside a page: their headings start at h3, below the page's h1/h2."""
    # Bandit B704: markdown-it output with raw HTML off.
    return Markup(HEADING_RE.sub(lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 2, 6)}>", str(html)))  # nosec B704


def _load_media(media_root: Path, problems: list[Problem]) -> dict[str, Media]:
    media: dict[str, Media] = {}
    for manifest in sorted(media_root.glob("*/media.yaml")):
        data = _yaml_file(manifest, problems)
        rel, folder = _rel(manifest), manifest.parent
        if data is None:
            continue
        media_id, kind, files = data.get("id"), data.get("kind"), data.get("files")
        if media_id != folder.name:
            problems.append(Problem(rel, 1, f"id {media_id!r} must be the folder name {folder.name!r}",
                                    f"write 'id: {folder.name}'"))
            continue
        if kind not in MEDIA_KINDS:
            problems.append(Problem(rel, 1, f"kind {kind!r} is unknown", "write kind: audio, video or image"))
            continue
        if not isinstance(files, dict) or not files:
            problems.append(Problem(rel, 1, "the media has no files", "list them under 'files:' per language"))
            continue
        entries: dict[str, MediaFile] = {}
        servable: set[str] = set()
        for lang, spec in files.items():
            spec = spec if isinstance(spec, dict) else {}
            src = spec.get("src")
            if not src or not (folder / src).is_file():
                problems.append(Problem(rel, 1, f"{lang}: the file {src!r} does not exist",
                                        f"put the file in {_rel(folder)}/ or correct 'src'"))
                continue
            servable.add(src)
            entry = MediaFile(src=src)
            if kind == "video":
                captions = spec.get("captions")
                if not captions or not (folder / captions).is_file():
                    problems.append(Problem(rel, 1, f"{lang}: the video has no captions file",
                                            "add a WebVTT file (e.g. sv.vtt) and name it under 'captions'"))
                else:
                    entry.captions = captions
                    servable.add(captions)
            if kind in ("audio", "video"):
                transcript = spec.get("transcript")
                if not transcript or not (folder / transcript).is_file():
                    problems.append(Problem(rel, 1, f"{lang}: the {kind} has no transcript",
                                            "add a Markdown transcript (e.g. sv.transcript.md) and name it under 'transcript'"))
                else:
                    entry.transcript_html = _demote_headings(
                        render_markdown((folder / transcript).read_text(encoding="utf-8")))
            entries[lang] = entry
        poster = data.get("poster")
        if poster:
            if (folder / poster).is_file():
                servable.add(poster)
            else:
                problems.append(Problem(rel, 1, f"the poster {poster!r} does not exist", "add the image or remove 'poster'"))
                poster = None
        media[media_id] = Media(id=media_id, kind=kind, folder=folder, files=entries, poster=poster,
                                servable=frozenset(servable))
    return media


def _load_programme(path: Path, catalogue: Catalogue, form_ids: set[str]) -> Programme | None:
    problems = catalogue.problems
    rel = _rel(path)
    data = _yaml_file(path, problems)
    if data is None:
        return None
    folder = path.parent
    for key in ("id", "title", "default_language", "languages", "recommended_days", "pace", "modules"):
        if key not in data:
            problems.append(Problem(rel, 1, f"missing setting {key!r}", "see docs/authoring.md for the full list"))
            return None
    if data["id"] != folder.name:
        problems.append(Problem(rel, 1, f"id {data['id']!r} must equal the folder name {folder.name!r}",
                                f"write 'id: {folder.name}'"))
        return None
    if data["pace"] not in {"all-open", "weekly"}:
        problems.append(Problem(rel, 1, "pace must be all-open or weekly", "write 'pace: weekly' or 'pace: all-open'"))
        return None
    languages = tuple(data["languages"] or ())
    default = data["default_language"]
    if not isinstance(data["title"], dict) or default not in data["title"]:
        problems.append(Problem(rel, 1, "title needs a text for the default language", f"add '  {default}: …' under title"))
        return None
    if default not in languages:
        problems.append(Problem(rel, 1, "the default language must be one of the languages", f"add {default} to languages"))
        return None
    if not isinstance(data["recommended_days"], int) or data["recommended_days"] <= 0:
        problems.append(Problem(rel, 1, "recommended_days must be a whole number above zero", "e.g. 'recommended_days: 365'"))
        return None
    order = data["modules"] or []
    source_lines = path.read_text(encoding="utf-8").split("\n")

    def line_of(word: str) -> int:
        return next((n for n, text in enumerate(source_lines, 1) if text.strip() == f"- {word}"), 1)

    programme = Programme(
        id=data["id"], titles=dict(data["title"]), descriptions=dict(data.get("description") or {}),
        default_language=default, languages=languages, recommended_days=data["recommended_days"],
        pace=data["pace"], path=rel, welcome={k: str(v).strip() for k, v in (data.get("welcome") or {}).items()},
    )
    for measure in data.get("measures") or []:
        form_id, at = (measure or {}).get("form"), (measure or {}).get("at")
        at_ok = at in ("start", "end") or (isinstance(at, int) and not isinstance(at, bool) and 0 < at <= 3650)
        if form_id not in form_ids or not at_ok:
            problems.append(Problem(rel, line_of(f"{{form: {form_id}, at: {at}}}"),
                                    f"the measure {form_id!r} at {at!r} is not a questionnaire in content/forms "
                                    "or not at start, end or a number of days",
                                    "write e.g. '- {form: phq-9, at: start}' or '- {form: phq-9, at: 90}'"))
            continue
        programme.measures.append((form_id, at))
    seen_answer_ids: dict[str, str] = {}
    for position, module_id in enumerate(order, start=1):
        module_folder = folder / str(module_id)
        if not module_folder.is_dir():
            problems.append(Problem(rel, line_of(str(module_id)), f"module {module_id!r} is listed but has no folder",
                                    f"create {_rel(module_folder)}/ or remove it from 'modules'"))
            continue
        module = _load_module(module_folder, programme, position, catalogue, form_ids, order)
        if module is None:
            continue
        for _kind, block_id, _items in module.answer_ids():
            if block_id in seen_answer_ids:
                version = module.versions[default]
                line = next(line for k, i, line, _n in version.answer_blocks if i == block_id)
                problems.append(Problem(version.path, line, f"the id '{block_id}' is also used in module {seen_answer_ids[block_id]!r}",
                                        "give every question and task its own id within the programme"))
                version.problems.append(problems[-1])
            seen_answer_ids[block_id] = module.id
        programme.modules.append(module)
    for extra in sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in order):
        problems.append(Problem(rel, 1, f"the folder {extra!r} is not in the module list", "add it under 'modules' or remove it",
                                severity="warning"))
    return programme


def _load_module(folder: Path, programme: Programme, position: int, catalogue: Catalogue,
                 form_ids: set[str], order: list[str]) -> Module | None:
    problems = catalogue.problems
    module = Module(id=folder.name, programme_id=programme.id, position=position,
                    default_language=programme.default_language)
    if not ID_RE.match(folder.name):
        problems.append(Problem(_rel(folder), 1, f"'{folder.name}' is not a valid module id",
                                "use lower-case letters, digits and hyphens"))
        return None
    parsed: dict[str, ParsedFile] = {}
    for file in sorted(folder.glob("*.md")):
        lang = file.stem
        rel = _rel(file)
        if lang not in programme.languages:
            problems.append(Problem(rel, 1, f"{lang!r} is not one of the programme's languages",
                                    "add it to 'languages' in programme.yaml or rename the file", severity="warning"))
            continue
        result = parse_module_file(file.read_text(encoding="utf-8"), rel)
        _check_references(result, lang, catalogue, form_ids, order, programme)
        parsed[lang] = result
    default = programme.default_language
    if default not in parsed:
        problems.append(Problem(_rel(folder), 1, f"the module has no {default}.md (the default language)",
                                f"add {_rel(folder / (default + '.md'))}"))
        return None
    source_ids = [(k, i, n) for k, i, _line, n in parsed[default].answer_blocks]
    for lang, result in parsed.items():
        if lang != default:
            ids = [(k, i, n) for k, i, _line, n in result.answer_blocks]
            if sorted(ids) != sorted(source_ids):
                missing = sorted({i for _k, i, _n in source_ids} - {i for _k, i, _n in ids})
                extra = sorted({i for _k, i, _n in ids} - {i for _k, i, _n in source_ids})
                detail = "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                                f"not in {default}: {', '.join(extra)}" if extra else "",
                                                "task items differ in number" if not missing and not extra else ""]))
                result.problems.append(Problem(result.path, 1, f"the questions and tasks differ from {default}.md ({detail})",
                                               f"use the same block ids, and the same number of task items, as {default}.md"))
        meta = result.meta
        module.versions[lang] = ModuleVersion(
            lang=lang, path=result.path, title=str(meta.get("title") or folder.name),
            description=str(meta.get("description") or ""), minutes=meta.get("minutes"),
            kind=meta.get("kind", "normal"), version=meta.get("version", 1) if isinstance(meta.get("version", 1), int) else 1,
            translates=meta.get("translates"), pages=result.pages, answer_blocks=result.answer_blocks,
            problems=result.problems,
        )
        problems.extend(result.problems)
    for lang in programme.languages:
        if lang not in module.versions:
            problems.append(Problem(_rel(folder), 1, f"no {lang} translation; patients who read {lang} get {default} with a note",
                                    f"add {_rel(folder / (lang + '.md'))}", severity="warning"))
        elif module.coverage(lang) == "stale":
            problems.append(Problem(module.versions[lang].path, 1, f"the translation is older than {default}.md (version {module.versions[default].version})",
                                    # Bandit B608: a message text, not SQL.
                                    f"update the text and set 'translates: {module.versions[default].version}'", severity="warning"))  # nosec B608
    return module


def _check_references(result: ParsedFile, lang: str, catalogue: Catalogue, form_ids: set[str],
                      order: list[str], programme: Programme) -> None:
    for kind, media_id, line in result.media_refs:
        media = catalogue.media.get(media_id)
        if media is None:
            result.problems.append(Problem(result.path, line, f"there is no media '{media_id}'",
                                           f"add media/{media_id}/media.yaml with its files, or correct the id"))
        elif media.kind != kind:
            result.problems.append(Problem(result.path, line, f"'{media_id}' is {media.kind}, not {kind}",
                                           f"write '::: {media.kind} {media_id}'"))
        else:
            media.programmes.add(programme.id)
            file, _found = media.for_language(lang, programme.default_language)
            if file is None:
                result.problems.append(Problem(result.path, line, f"'{media_id}' has no file for {lang}",
                                               f"add a {lang} entry to media/{media_id}/media.yaml"))
            elif kind == "video" and not file.captions:
                result.problems.append(Problem(result.path, line, f"the video '{media_id}' has no captions",
                                               f"add captions (WebVTT) to media/{media_id}/media.yaml"))
            elif kind in ("audio", "video") and file.transcript_html is None:
                result.problems.append(Problem(result.path, line, f"the {kind} '{media_id}' has no transcript",
                                               f"add a transcript to media/{media_id}/media.yaml"))
    for target, line in result.module_links:
        if target not in order:
            result.problems.append(Problem(result.path, line, f"the link goes to module '{target}', which is not in this programme",
                                           "use the folder name of a module listed in programme.yaml"))
    for target, line in result.form_links:
        if target not in form_ids:
            result.problems.append(Problem(result.path, line, f"the link goes to questionnaire '{target}', which does not exist",
                                           "use the id of a questionnaire in content/forms/"))


# --- the app's copy --------------------------------------------------------------


def init_catalogue(app) -> None:
    """Load the catalogue once at start-up; in development, reload when files change."""
    _load_into(app)
    if app.config.get("CONTENT_AUTO_RELOAD"):

        @app.before_request
        def _reload_if_changed():
            state = app.extensions["lotsa_content_checked"]
            now = time.monotonic()
            if now - state[0] < 1.0:
                return
            state[0] = now
            roots = (Path(app.config["CONTENT_ROOT"]), Path(app.config["MEDIA_ROOT"]), Path(app.config["FORMS_ROOT"]))
            if content_signature(*roots) != app.extensions["lotsa_catalogue"].signature:
                _load_into(app)


def _load_into(app) -> None:
    catalogue = load_catalogue(Path(app.config["CONTENT_ROOT"]), Path(app.config["MEDIA_ROOT"]),
                               Path(app.config["FORMS_ROOT"]))
    app.extensions["lotsa_catalogue"] = catalogue
    app.extensions["lotsa_content_checked"] = [time.monotonic()]
    if catalogue.errors:
        # Modules with errors are hidden from patients; the site keeps serving the rest.
        app.logger.error("content: %d error(s); affected modules are hidden from patients. "
                         "Run `flask --app webapp content check` for the list. First: %s",
                         len(catalogue.errors), catalogue.errors[0])
    app.logger.info("content: %d programmes, %d media loaded in %.0f ms", len(catalogue.programmes),
                    len(catalogue.media), catalogue.load_seconds * 1000)


def get_catalogue() -> Catalogue:
    from flask import current_app

    return current_app.extensions["lotsa_catalogue"]
