"""The content catalogue: programmes, modules and media read from files once.

``load_catalogue()`` reads ``content/modules`` and ``media/``, parses every
Markdown file and checks everything that spans files (module order, ids across
languages, media references, links). It runs without an app, so the ``content
check`` command and the unit tests share it. The app keeps one catalogue in
memory; requests never parse Markdown.

A module with errors in its default language is left out for patients, but
stays in the catalogue so editors see it, with its problems, in the preview.

Each file is loaded on its own: whatever goes wrong while reading, decoding,
parsing or checking one file (programme.yaml, a module's Markdown, media.yaml,
a questionnaire) becomes a Problem on that file, and everything else loads.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import mutagen
from flask import current_app, g, has_request_context
from markupsafe import Markup

from webapp.config import PROJECT_ROOT
from webapp.content.glossary import Glossary, check_terms, load_glossaries
from webapp.content.parser import (
    ID_RE,
    ParsedFile,
    Problem,
    line_of_key,
    load_yaml,
    parse_module_file,
    problem_from_exception,
    read_content_text,
    text_map,
    typed,
    unreadable_file,
)
from webapp.content.questionnaires import load_questionnaires
from webapp.content.register import Timepoint, parse_register
from webapp.core.languages import Text, base_language, choose
from webapp.core.markdown import render_markdown

CONTENT_ROOT = PROJECT_ROOT / "content" / "modules"
MEDIA_ROOT = PROJECT_ROOT / "media"
FORMS_ROOT = PROJECT_ROOT / "content" / "forms"

MEDIA_KINDS = {"audio", "video", "image"}
PACES = {"all-open", "weekly"}
# How modules open (programme.yaml 'opening', and per enrolment): on their day as
# the pace sets it, all at once, or each after the clinician's feedback on the
# one before. Without 'opening' the pace decides (all-open: at-once).
OPENINGS = ("by-date", "at-once", "after-feedback")
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
    # Whole seconds, read from the file when the catalogue loads (None: unreadable).
    seconds: int | None = None


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
    # (id, line, fields) of the module's diaries (parser.ParsedFile.diary_blocks).
    diary_blocks: list = field(default_factory=list)
    # A translation's provenance (front matter): who translated it, who reviewed it and when.
    translated_by: str | None = None
    reviewed_by: str | None = None
    reviewed_on: datetime.date | None = None
    # The id of an audio that reads the whole module aloud ("listen"), if the content has one.
    listen: str | None = None
    # Whether the file opens with a '::: goal' block (the module's goal and key points).
    has_goal: bool = False
    # This file's text fingerprint (parser.body_hash), and in a translation the source's it was made from.
    body_hash: str = ""
    source_hash: str | None = None

    def __post_init__(self) -> None:
        # The title travels without its version (breadcrumbs, lists): it keeps its language.
        self.title = Text(self.title, self.lang)

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
        """The version in ``lang`` if it is usable, else the default (and True = fallback).

        The version's ``lang`` (and its title's) is the language actually shown,
        so the page can mark the fragment and say why it is in another language.
        """
        wanted = self.versions.get(base_language(lang))
        if wanted is not None and not wanted.has_errors:
            return wanted, False
        return self.versions[self.default_language], base_language(lang) != self.default_language

    @property
    def kind(self) -> str:
        return self.versions[self.default_language].kind

    def answer_ids(self) -> list[tuple[str, str, int]]:
        """(kind, id, item count) of the module's answer blocks, in reading order."""
        version = self.versions[self.default_language]
        return [(kind, block_id, items) for kind, block_id, _line, items in version.answer_blocks]

    def diary_ids(self) -> list[str]:
        """The ids of the module's diary blocks, in reading order."""
        return [block_id for block_id, _line, _fields in self.versions[self.default_language].diary_blocks]

    def coverage(self, lang: str) -> str:
        """complete / missing / stale / error for one language (the editor's table)."""
        version = self.versions.get(lang)
        if version is None:
            return "missing"
        if version.has_errors:
            return "error"
        if lang != self.default_language and self.stale_reason(lang):
            return "stale"
        return "complete"

    def stale_reason(self, lang: str) -> str | None:
        """Why a translation is behind its source: "version" (the source's version was raised past
        ``translates``) or "text" (the source's text changed since the ``source_hash`` it records); else None.

        The fingerprint needs no git and no file times (a deploy or checkout resets
        those): it changes with the text itself, wherever the file went. Without a
        recorded fingerprint only the version numbers say it.
        """
        version, source = self.versions.get(lang), self.versions.get(self.default_language)
        if version is None or source is None or lang == self.default_language:
            return None
        if version.translates is not None and version.translates < source.version:
            return "version"
        if version.source_hash and source.body_hash and not source.body_hash.startswith(version.source_hash):
            return "text"
        return None


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
    # One of OPENINGS: the default of every enrolment in this programme.
    opening: str = "by-date"
    path: str = ""
    # The clinician's default welcome text (Markdown) per language.
    welcome: dict[str, str] = field(default_factory=dict)
    # Questionnaires sent automatically: (form id, "start" or "end").
    # (form id, "start" | "end" | days after the start)
    measures: list[tuple[str, str | int]] = field(default_factory=list)
    # The national pain-rehabilitation register's timepoints (content/register.py).
    register: list[Timepoint] = field(default_factory=list)
    # Patient information anyone may read without logging in (the information library).
    public: bool = False
    # The clinician's guide (clinician_guide): per language, GUIDE_SECTIONS -> rendered Markdown.
    guide: dict[str, dict[str, Markup]] = field(default_factory=dict)

    def title(self, locale: str) -> Text:
        """The title in ``locale``, else in the default language; the ``Text`` says which."""
        return choose(self.titles, locale, (self.default_language,), default=self.id)

    def description(self, locale: str) -> Text:
        return choose(self.descriptions, locale, (self.default_language,))

    def clinician_guide(self, locale: str) -> tuple[str, dict[str, Markup]] | None:
        """The guide in ``locale``, else in the default language, else any: (language, sections)."""
        for lang in (base_language(locale), self.default_language, *self.guide):
            if lang in self.guide:
                return lang, self.guide[lang]
        return None

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
    # The key terms per language (content/glossary/<lang>.yaml, see content/glossary.py).
    glossaries: dict[str, Glossary] = field(default_factory=dict)
    signature: tuple = ()
    load_seconds: float = 0.0
    # sha256 over every file read (content_hash): what a release names.
    content_hash: str = ""
    # The release this catalogue serves ("" until one is recorded; see webapp.editor.releases).
    release: str = ""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def version_label(self) -> str:
        """The release, or (none recorded yet) the start of the content hash."""
        return self.release or self.content_hash[:10]

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


def _yaml_settings(path: Path) -> tuple[dict, str]:
    """A YAML file of 'name: value' settings and its text; raises on damage (the caller's net reports it)."""
    text = read_content_text(path)
    data = typed(load_yaml(text), dict, "the file", default={},
                 fix="write the settings as 'name: value' lines (see docs/authoring.md)")
    return data, text


def content_signature(*roots: Path) -> tuple:
    """Changes when any content or media file is added, removed or edited."""
    newest, count = 0.0, 0
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                count += 1
                try:
                    newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
                except OSError:
                    # A broken link, or a file removed while we look: the load reports it, if it matters.
                    continue
    return (newest, count)


def content_hash(*roots: Path) -> str:
    """sha256 over every file's path and bytes under ``roots``: equal hashes, equal content."""
    digest = hashlib.sha256()
    for number, root in enumerate(roots):
        for dirpath, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                try:
                    with open(path, "rb") as handle:
                        data = handle.read()
                except OSError:
                    continue
                digest.update(f"{number}:{os.path.relpath(path, root)}:{len(data)}:".encode())
                digest.update(data)
    return digest.hexdigest()


def load_catalogue(root: Path = CONTENT_ROOT, media_root: Path = MEDIA_ROOT,
                   forms_root: Path = FORMS_ROOT, glossary_root: Path | None = None) -> Catalogue:
    """Read, parse and check all content; problems are collected, never raised.

    The glossaries are read from ``glossary_root``, by default the folder
    ``glossary`` next to the modules' folder (content/glossary).
    """
    started = time.perf_counter()
    glossary_root = glossary_root if glossary_root is not None else root.parent / "glossary"
    catalogue = Catalogue(signature=content_signature(root, media_root, forms_root, glossary_root),
                          content_hash=content_hash(root, media_root, forms_root, glossary_root))
    catalogue.glossaries = load_glossaries(glossary_root, _rel, catalogue.problems)
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
    """Every media/<id>/media.yaml; a damaged one is a problem on it and that media is left out."""
    media: dict[str, Media] = {}
    for manifest in sorted(media_root.glob("*/media.yaml")):
        try:
            item = _load_media_item(manifest, problems)
        except Exception as exc:  # the last-resort net: one file never stops the others
            problems.append(problem_from_exception(_rel(manifest), exc))
            continue
        if item is not None:
            media[item.id] = item
    return media


def _load_media_item(manifest: Path, problems: list[Problem]) -> Media | None:
    """One media.yaml and the files it names; None (with problems) if it cannot be used."""
    data, text = _yaml_settings(manifest)
    rel, folder = _rel(manifest), manifest.parent

    def get(key: str, kind, default=None, fix: str | None = None):
        return typed(data.get(key), kind, key, line=line_of_key(text, key), default=default, fix=fix)

    media_id, kind = data.get("id"), get("kind", str, fix="write kind: audio, video or image")
    files = get("files", dict, default={}, fix="write one line per language below 'files:', e.g. '  sv: {src: sv.mp3}'")
    if media_id != folder.name:
        problems.append(Problem(rel, line_of_key(text, "id"), f"id {media_id!r} must be the folder name {folder.name!r}",
                                f"write 'id: {folder.name}'"))
        return None
    if kind not in MEDIA_KINDS:
        problems.append(Problem(rel, line_of_key(text, "kind"), f"kind {kind!r} is unknown",
                                "write kind: audio, video or image"))
        return None
    if not files:
        problems.append(Problem(rel, 1, "the media has no files", "list them under 'files:' per language"))
        return None
    entries: dict[str, MediaFile] = {}
    servable: set[str] = set()
    for lang, spec in files.items():
        line = line_of_key(text, str(lang))
        spec = typed(spec, dict, f"files: {lang}", line=line, default={},
                     fix=f"write e.g. '  {lang}: {{src: {lang}.mp3, transcript: {lang}.transcript.md}}'")
        src = _file_name(spec, "src", lang, line)
        if not src or not (folder / src).is_file():
            problems.append(Problem(rel, line, f"{lang}: the file {src!r} does not exist",
                                    f"put the file in {_rel(folder)}/ or correct 'src'"))
            continue
        servable.add(src)
        entry = MediaFile(src=src, seconds=_media_seconds(folder / src) if kind in ("audio", "video") else None)
        if kind == "video":
            captions = _file_name(spec, "captions", lang, line)
            if not captions or not (folder / captions).is_file():
                problems.append(Problem(rel, line, f"{lang}: the video has no captions file",
                                        "add a WebVTT file (e.g. sv.vtt) and name it under 'captions'"))
            else:
                entry.captions = captions
                servable.add(captions)
        if kind in ("audio", "video"):
            transcript = _file_name(spec, "transcript", lang, line)
            if not transcript or not (folder / transcript).is_file():
                problems.append(Problem(rel, line, f"{lang}: the {kind} has no transcript",
                                        "add a Markdown transcript (e.g. sv.transcript.md) and name it under 'transcript'"))
            else:
                entry.transcript_html = _load_transcript(folder / transcript, problems)
        entries[lang] = entry
    poster = get("poster", str, fix="write the image's file name, e.g. 'poster: poster.png'")
    if poster:
        if (folder / poster).is_file():
            servable.add(poster)
        else:
            problems.append(Problem(rel, line_of_key(text, "poster"), f"the poster {poster!r} does not exist",
                                    "add the image or remove 'poster'"))
            poster = None
    return Media(id=media_id, kind=kind, folder=folder, files=entries, poster=poster, servable=frozenset(servable))


def _media_seconds(path: Path) -> int | None:
    """How long a recording or film is, for the player's label; None if the file says nothing readable."""
    try:
        with open(path, "rb") as handle:  # closed here: mutagen leaves a path it opened to the collector
            info = getattr(mutagen.File(handle), "info", None)
    except Exception:  # a damaged file loses its length label, never the page
        return None
    length = getattr(info, "length", None)
    return int(length) if length else None  # whole seconds shown, as players count them


_EXAMPLE_SUFFIX = {"src": "mp3", "captions": "vtt", "transcript": "transcript.md"}


def _file_name(spec: dict, key: str, lang: str, line: int) -> str | None:
    """A file name under ``files: {lang}: {key}`` in media.yaml, or None if it is not given."""
    return typed(spec.get(key), str, f"{key} (under files: {lang})", line=line,
                 fix=f"write the name of a file in the media folder, e.g. '{key}: {lang}.{_EXAMPLE_SUFFIX[key]}'")


def _load_transcript(path: Path, problems: list[Problem]) -> Markup | None:
    """A transcript rendered for the page; a damaged one is a problem on the transcript file."""
    try:
        return _demote_headings(render_markdown(read_content_text(path)))
    except Exception as exc:  # the last-resort net: a bad transcript only loses the transcript
        problems.append(problem_from_exception(_rel(path), exc))
        return None


def _load_programme(path: Path, catalogue: Catalogue, form_ids: set[str]) -> Programme | None:
    """One programme: its programme.yaml, then each module on its own."""
    problems = catalogue.problems
    rel = _rel(path)
    try:
        settings = _programme_settings(path, problems, form_ids)
    except Exception as exc:  # the last-resort net: a damaged programme.yaml leaves out that programme only
        problems.append(problem_from_exception(rel, exc))
        return None
    if settings is None:
        return None
    programme, order, line_of = settings
    folder = path.parent
    default = programme.default_language
    seen_answer_ids: dict[str, str] = {}
    for position, module_id in enumerate(order, start=1):
        module_folder = folder / module_id
        if not module_folder.is_dir():
            problems.append(Problem(rel, line_of(module_id), f"module {module_id!r} is listed but has no folder",
                                    f"create {_rel(module_folder)}/ or remove it from 'modules'"))
            continue
        try:
            module = _load_module(module_folder, programme, position, catalogue, form_ids, order)
        except Exception as exc:  # the last-resort net: each file is caught in _load_module; this is the rest
            problems.append(problem_from_exception(_rel(module_folder), exc))
            continue
        if module is None:
            continue
        version = module.versions[default]
        block_lines = [(i, line) for _k, i, line, _n in version.answer_blocks]
        block_lines += [(i, line) for i, line, _fields in version.diary_blocks]
        for block_id, line in block_lines:
            if block_id in seen_answer_ids:
                problems.append(Problem(version.path, line, f"the id '{block_id}' is also used in module {seen_answer_ids[block_id]!r}",
                                        "give every question and task its own id within the programme"))
                version.problems.append(problems[-1])
            seen_answer_ids[block_id] = module.id
        programme.modules.append(module)
    # A programme that states a goal for some modules should do it for all of them.
    if any(m.versions[default].has_goal for m in programme.modules):
        for module in programme.modules:
            version = module.versions[default]
            if not version.has_goal:
                problems.append(Problem(version.path, 1, "the other modules of the programme start with a goal, this one has none",
                                        "add a '::: goal' block with the goal and the key points on the first page",
                                        severity="warning"))
                version.problems.append(problems[-1])
    for extra in sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in order):
        problems.append(Problem(rel, 1, f"the folder {extra!r} is not in the module list", "add it under 'modules' or remove it",
                                severity="warning"))
    return programme


REQUIRED_SETTINGS = ("id", "title", "default_language", "languages", "recommended_days", "pace", "modules")


def _programme_settings(path: Path, problems: list[Problem], form_ids: set[str]):
    """programme.yaml as (Programme without modules, module ids in order, line finder), or None.

    A value of the wrong kind raises ContentValueError (the caller turns it into
    a problem and leaves the programme out); a wrong value is a problem here.
    """
    rel, folder = _rel(path), path.parent
    data, text = _yaml_settings(path)
    source_lines = text.split("\n")

    def line_of(word: str) -> int:
        return next((n for n, line in enumerate(source_lines, 1) if line.strip() == f"- {word}"), 1)

    def get(key: str, kind, default=None, fix: str | None = None):
        return typed(data.get(key), kind, key, line=line_of_key(text, key), default=default, fix=fix)

    for key in REQUIRED_SETTINGS:
        if key not in data:
            problems.append(Problem(rel, 1, f"missing setting {key!r}", "see docs/authoring.md for the full list"))
            return None
    if data["id"] != folder.name:
        problems.append(Problem(rel, line_of_key(text, "id"), f"id {data['id']!r} must equal the folder name {folder.name!r}",
                                f"write 'id: {folder.name}'"))
        return None
    pace = get("pace", str, fix="write 'pace: weekly' or 'pace: all-open'")
    if pace not in PACES:
        problems.append(Problem(rel, line_of_key(text, "pace"), "pace must be all-open or weekly",
                                "write 'pace: weekly' or 'pace: all-open'"))
        return None
    default = get("default_language", str, fix="write the language code, e.g. 'default_language: sv'")
    languages = tuple(typed(lang, str, "every entry under languages", line=line_of_key(text, "languages"),
                            fix="write language codes, e.g. 'languages: [sv, en]' (put 'no' in quotes)")
                      for lang in get("languages", list, default=[], fix="write e.g. 'languages: [sv, en]'"))
    titles = text_map(data["title"], "title", line=line_of_key(text, "title"))
    if default not in titles:
        problems.append(Problem(rel, line_of_key(text, "title"), "title needs a text for the default language",
                                f"add '  {default}: …' under title"))
        return None
    if default not in languages:
        problems.append(Problem(rel, line_of_key(text, "languages"), "the default language must be one of the languages",
                                f"add {default} to languages"))
        return None
    days = get("recommended_days", int, fix="e.g. 'recommended_days: 365'")
    if days is None or days <= 0:
        problems.append(Problem(rel, line_of_key(text, "recommended_days"), "recommended_days must be a whole number above zero",
                                "e.g. 'recommended_days: 365'"))
        return None
    order: list[str] = []
    modules_line = line_of_key(text, "modules")
    for entry in get("modules", list, default=[], fix="write one '- module-folder' line per module below 'modules:'"):
        # A folder called 2024 is read by YAML as a number: still a name.
        module_id = str(typed(entry, (str, int), "every entry under modules", line=modules_line,
                              must="a folder name", fix="write the module's folder name, e.g. '- pain-physiology'"))
        if not ID_RE.match(module_id):
            # Also keeps a listed "../other/module" from reaching outside the programme's folder.
            problems.append(Problem(rel, line_of(module_id), f"{module_id!r} is not a valid module id",
                                    "write the module's folder name: lower-case letters, digits and hyphens"))
            continue
        order.append(module_id)
    welcome = text_map(data.get("welcome"), "welcome", line=line_of_key(text, "welcome"))
    opening = get("opening", str, default="at-once" if pace == "all-open" else "by-date",
                  fix="write 'opening: by-date', 'opening: at-once' or 'opening: after-feedback'")
    if opening not in OPENINGS:
        problems.append(Problem(rel, line_of_key(text, "opening"), f"opening must be one of {', '.join(OPENINGS)}",
                                "write 'opening: by-date', 'opening: at-once' or 'opening: after-feedback'"))
        return None
    programme = Programme(
        id=data["id"], titles=titles,
        descriptions=text_map(data.get("description"), "description", line=line_of_key(text, "description")),
        default_language=default, languages=languages, recommended_days=days,
        pace=pace, opening=opening, path=rel, welcome={lang: value.strip() for lang, value in welcome.items()},
        public=bool(get("public", bool, default=False,
                        fix="write 'public: true' for patient information anyone may read, or leave it out")),
    )
    measures_line = line_of_key(text, "measures")
    for measure in get("measures", list, default=[], fix="write one '- {form: …, at: …}' line per measure"):
        measure = typed(measure, dict, "every entry under measures", line=measures_line, default={},
                        fix="write e.g. '- {form: phq-9, at: start}'")
        form_id = typed(measure.get("form"), str, "the form of a measure", line=measures_line,
                        fix="write the questionnaire's id, e.g. 'form: phq-9'")
        at = typed(measure.get("at"), (str, int), "the 'at' of a measure", line=measures_line,
                   fix="write start, end or a number of days, e.g. 'at: 90'")
        at_ok = at in ("start", "end") or (isinstance(at, int) and 0 < at <= 3650)
        if form_id not in form_ids or not at_ok:
            problems.append(Problem(rel, line_of(f"{{form: {form_id}, at: {at}}}"),
                                    f"the measure {form_id!r} at {at!r} is not a questionnaire in content/forms "
                                    "or not at start, end or a number of days",
                                    "write e.g. '- {form: phq-9, at: start}' or '- {form: phq-9, at: 90}'"))
            continue
        programme.measures.append((form_id, at))
    programme.guide = _clinician_guide(data, text, rel, programme, problems)
    programme.register = parse_register(data.get("register"), text, rel, form_ids, problems)
    return programme, order, line_of


# The clinician's guide to a programme, in this order: who it suits, who it does
# not, how to follow up, and what to do when a patient gives a safety answer.
GUIDE_SECTIONS = ("suits", "not_suited", "follow_up", "safety")


def _clinician_guide(data: dict, text: str, rel: str, programme: Programme,
                     problems: list[Problem]) -> dict[str, dict[str, Markup]]:
    """``clinician_guide:`` per language, every section written; shown when access is opened.

    A programme for patients without one gets a warning (the clinician opens
    access without knowing whom it is for); public information needs none.
    """
    line = line_of_key(text, "clinician_guide")
    fix = ("write one language per line below 'clinician_guide:', each with "
           + ", ".join(f"'{name}: |'" for name in GUIDE_SECTIONS) + " and the text below")
    raw = typed(data.get("clinician_guide"), dict, "clinician_guide", line=line, default={}, fix=fix)
    if not raw:
        if not programme.public:
            problems.append(Problem(rel, 1, "the programme has no clinician_guide",
                                    "add 'clinician_guide:' with " + ", ".join(GUIDE_SECTIONS), severity="warning"))
        return {}
    guide: dict[str, dict[str, Markup]] = {}
    for lang, sections in raw.items():
        sections = typed(sections, dict, f"the {lang} clinician_guide", line=line, fix=fix)
        missing = [name for name in GUIDE_SECTIONS if not isinstance(sections.get(name), str) or not sections[name].strip()]
        unknown = sorted(set(sections) - set(GUIDE_SECTIONS))
        if missing or unknown:
            problems.append(Problem(rel, line, f"the {lang} clinician_guide "
                                    + (f"lacks {', '.join(missing)}" if missing else f"has unknown parts: {', '.join(unknown)}"),
                                    fix))
            continue
        guide[str(lang)] = {name: render_markdown(sections[name]) for name in GUIDE_SECTIONS}
    if guide and programme.default_language not in guide:
        problems.append(Problem(rel, line, f"the clinician_guide has no {programme.default_language} text",
                                f"add '  {programme.default_language}:' with its parts under clinician_guide"))
    return guide


def _load_module_file(file: Path, lang: str, catalogue: Catalogue, form_ids: set[str], order: list[str],
                      programme: Programme) -> ParsedFile:
    """One language file of a module, parsed and checked; a damaged file stands in as an unreadable one."""
    rel = _rel(file)
    try:
        result = parse_module_file(read_content_text(file), rel)
        _check_references(result, lang, catalogue, form_ids, order, programme)
    except Exception as exc:  # the last-resort net: one file never stops the module's other languages
        return unreadable_file(rel, problem_from_exception(rel, exc), title=file.parent.name)
    return result


def _load_module(folder: Path, programme: Programme, position: int, catalogue: Catalogue,
                 form_ids: set[str], order: list[str]) -> Module | None:
    """One module folder: every language file, then the checks across languages."""
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
        if lang not in programme.languages:
            problems.append(Problem(_rel(file), 1, f"{lang!r} is not one of the programme's languages",
                                    "add it to 'languages' in programme.yaml or rename the file", severity="warning"))
            continue
        parsed[lang] = _load_module_file(file, lang, catalogue, form_ids, order, programme)
    default = programme.default_language
    if default not in parsed:
        problems.append(Problem(_rel(folder), 1, f"the module has no {default}.md (the default language)",
                                f"add {_rel(folder / (default + '.md'))}"))
        return None
    for lang, result in parsed.items():
        # An unreadable file already has its problem; comparing its (empty) blocks would only add noise.
        if lang != default and not result.unreadable and not parsed[default].unreadable:
            _compare_answer_blocks(parsed[default], result, default)
            if parsed[default].goal_line and not result.goal_line:
                result.problems.append(Problem(
                    result.path, 1, f"{default}.md has a '::: goal' block (line {parsed[default].goal_line}) and this translation has none",
                    "translate the goal and key points into a '::: goal' block on the first page"))
            _compare_diaries(parsed[default], result, default)
            if lang in catalogue.glossaries:
                result.problems.extend(_glossary_problems(catalogue.glossaries[lang], folder, default, lang, result))
        # parse_module_file leaves only values of the right kind in meta.
        meta = result.meta
        module.versions[lang] = ModuleVersion(
            lang=lang, path=result.path, title=meta.get("title") or folder.name,
            description=meta.get("description", ""), minutes=meta.get("minutes"),
            kind=meta.get("kind", "normal"), version=meta.get("version", 1),
            translates=meta.get("translates"), pages=result.pages, answer_blocks=result.answer_blocks,
            diary_blocks=result.diary_blocks,
            problems=result.problems, translated_by=meta.get("translated_by"), reviewed_by=meta.get("reviewed_by"),
            reviewed_on=meta.get("reviewed_on"), listen=meta.get("listen"), has_goal=bool(result.goal_line),
            body_hash=result.body_hash, source_hash=meta.get("source_hash"),
        )
        problems.extend(result.problems)
    for lang in programme.languages:
        if lang not in module.versions:
            problems.append(Problem(_rel(folder), 1, f"no {lang} translation; patients who read {lang} get {default} with a note",
                                    f"add {_rel(folder / (lang + '.md'))}", severity="warning"))
        elif module.coverage(lang) == "stale" and module.stale_reason(lang) == "text":
            problems.append(Problem(module.versions[lang].path, 1, f"{default}.md has changed since this translation was made from it",
                                    f"bring the text up to date, then write 'source_hash: {module.versions[default].body_hash}'",
                                    severity="warning"))
        elif module.coverage(lang) == "stale":
            problems.append(Problem(module.versions[lang].path, 1, f"the translation is older than {default}.md (version {module.versions[default].version})",
                                    # Bandit B608: a message text, not SQL.
                                    f"update the text and set 'translates: {module.versions[default].version}'", severity="warning"))  # nosec B608
    return module


def _glossary_problems(glossary: Glossary, folder: Path, default: str, lang: str, result: ParsedFile) -> list[Problem]:
    """The glossary check of one translation against the default language's file."""
    source_file, file = folder / f"{default}.md", folder / f"{lang}.md"
    return check_terms(glossary, default, read_content_text(source_file), _rel(source_file),
                       read_content_text(file), result.path)


def _compare_answer_blocks(source: ParsedFile, translation: ParsedFile, default: str) -> None:
    """Every question and task of the default language must be in the translation, with the same id.

    Each missing id is reported on the line of the translation where it should
    be: just before the block that follows it in the default language (or at the
    end of the file), with the default language's line for reference.
    """
    present = {block_id: (kind, line, items) for kind, block_id, line, items in translation.answer_blocks}
    source_ids = {block_id for _k, block_id, _l, _n in source.answer_blocks}
    end_line = translation.last_line
    for index, (kind, block_id, source_line, items) in enumerate(source.answer_blocks):
        if block_id not in present:
            following = next((present[i][1] for _k, i, _l, _n in source.answer_blocks[index + 1:] if i in present),
                             end_line)
            translation.problems.append(Problem(
                translation.path, following,
                f"the {kind} '{block_id}' of {default}.md (line {source_line}) is missing here",
                f"add '::: {kind} {block_id}' with the translated text, as in {default}.md"))
        elif present[block_id][0] != kind or present[block_id][2] != items:
            translation.problems.append(Problem(
                translation.path, present[block_id][1],
                f"'{block_id}' differs from {default}.md line {source_line} (the kind of block or the number of task items)",
                f"make it a '{kind}' block with {items} item(s), as in {default}.md"))
    for kind, block_id, line, _items in translation.answer_blocks:
        if block_id not in source_ids:
            translation.problems.append(Problem(translation.path, line, f"the {kind} '{block_id}' is not in {default}.md",
                                                f"use the block ids of {default}.md"))


def _compare_diaries(source: ParsedFile, translation: ParsedFile, default: str) -> None:
    """A diary registers the same values in every language: same ids, kinds, ranges and steps.

    Registrations are stored by value id, so a translation that named or bounded
    a value differently would show (or refuse) other numbers than the default.
    """
    present = {block_id: (line, fields) for block_id, line, fields in translation.diary_blocks}
    for block_id, source_line, fields in source.diary_blocks:
        if block_id not in present:
            translation.problems.append(Problem(
                translation.path, translation.last_line,
                f"the diary '{block_id}' of {default}.md (line {source_line}) is missing here",
                f"add '::: diary {block_id}' with the translated text and the same values, as in {default}.md"))
        elif [f.signature for f in present[block_id][1]] != [f.signature for f in fields]:
            translation.problems.append(Problem(
                translation.path, present[block_id][0],
                f"the values of the diary '{block_id}' differ from {default}.md line {source_line}",
                "translate only the labels and end words; keep each value's id, kind, min, max, step and summary, "
                f"in the same order as in {default}.md"))
    source_ids = {block_id for block_id, _line, _fields in source.diary_blocks}
    for block_id, line, _fields in translation.diary_blocks:
        if block_id not in source_ids:
            translation.problems.append(Problem(translation.path, line, f"the diary '{block_id}' is not in {default}.md",
                                                f"use the block ids of {default}.md"))


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


def _roots(app) -> tuple[Path, Path, Path, Path]:
    """The content, media, forms and glossary folders of the app (the glossary sits next to the modules)."""
    content = Path(app.config["CONTENT_ROOT"])
    return content, Path(app.config["MEDIA_ROOT"]), Path(app.config["FORMS_ROOT"]), content.parent / "glossary"


def init_catalogue(app) -> None:
    """Load the catalogue once at start-up; in development, reload when files change.

    Damaged files are problems in the catalogue, never exceptions; should the
    load itself still fail, the site starts with an empty catalogue (start-up)
    or keeps the one it has (reload), so login, /healthz and the CLI commands
    that build an app (db upgrade, scheduler run) keep working.
    """
    _load_into(app, keep_old=False)
    if app.config.get("CONTENT_AUTO_RELOAD"):

        @app.before_request
        def _reload_if_changed():
            state = app.extensions["lotsa_content_checked"]
            now = time.monotonic()
            if now - state[0] < 1.0:
                return
            state[0] = now
            roots = _roots(app)
            signature = content_signature(*roots)
            # state[1]: the files a failed reload saw, so it is not retried (and logged) every second.
            if signature not in (app.extensions["lotsa_catalogue"].signature, state[1]):
                if not _load_into(app, keep_old=True):
                    state[1] = signature


def _load_into(app, *, keep_old: bool) -> bool:
    """Load the catalogue into the app; False if the load failed outside any one file."""
    roots = _roots(app)
    try:
        catalogue = load_catalogue(*roots)
    except Exception as exc:  # the last resort above the per-file nets: the site must still start
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        if keep_old and "lotsa_catalogue" in app.extensions:
            app.logger.error("content: reloading %s failed (%s at %s); the previous content keeps serving",
                             roots[0], type(exc).__name__, where)
            return False
        app.logger.error("content: loading %s failed (%s at %s); no programmes are served",
                         roots[0], type(exc).__name__, where)
        catalogue = Catalogue(signature=content_signature(*roots), problems=[Problem(
            _rel(roots[0]), 1, "the content could not be loaded, so no programmes are shown",
            "run `flask --app webapp content check`; if it names no file, ask a developer to look in the server log")])
        app.extensions["lotsa_catalogue"] = catalogue
        app.extensions["lotsa_content_checked"] = [time.monotonic(), None]
        return False
    app.extensions["lotsa_catalogue"] = catalogue
    app.extensions["lotsa_content_checked"] = [time.monotonic(), None]
    if catalogue.errors:
        # Modules with errors are hidden from patients; the site keeps serving the rest.
        app.logger.error("content: %d error(s); affected modules are hidden from patients. "
                         "Run `flask --app webapp content check` for the list. First: %s",
                         len(catalogue.errors), catalogue.errors[0])
    app.logger.info("content: %d programmes, %d media loaded in %.0f ms", len(catalogue.programmes),
                    len(catalogue.media), catalogue.load_seconds * 1000)
    return True


def app_roots(app) -> tuple[Path, Path, Path, Path]:
    """The folders ``load_catalogue`` reads for this app (content, media, forms, glossary)."""
    return _roots(app)


def swap_catalogue(app, catalogue: Catalogue) -> None:
    """Serve ``catalogue`` from the next request on; requests under way keep the one they began with."""
    app.extensions["lotsa_catalogue"] = catalogue  # one assignment: atomic for every thread of the worker
    app.extensions["lotsa_content_checked"] = [time.monotonic(), None]


def get_catalogue() -> Catalogue:
    """The running app's catalogue (load_catalogue() needs no app; this does).

    A request keeps the catalogue it first asked for, so a release swapped in
    meanwhile never mixes two versions of the content in one page.
    """
    if has_request_context():
        pinned = g.get("lotsa_catalogue")
        if pinned is None:
            pinned = g.lotsa_catalogue = current_app.extensions["lotsa_catalogue"]
        return pinned
    return current_app.extensions["lotsa_catalogue"]
