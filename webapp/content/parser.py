"""Parse one module file (front matter + Markdown + ``:::`` blocks) into pages.

A page is a list of segments: pre-rendered HTML, or a block (reflection, task,
rating, diary, audio, video, image, tip, summary) whose text is pre-rendered and whose
interactive part is drawn by our templates at request time. Nothing here needs
an app, so the ``content check`` command and unit tests use it directly.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import shlex
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from markdown_it.token import Token
from markupsafe import Markup

from webapp.core.markdown import content_parser

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
# A tag-like thing in text: markdown-it shows it as text, but editors should know.
HTML_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>|<!--")
BAD_LINK_RE = re.compile(r"\]\(\s*(javascript|vbscript|data|file):", re.IGNORECASE)

ANSWER_BLOCKS = {"reflection", "task", "rating"}
MEDIA_BLOCKS = {"audio", "video", "image"}
# '::: crisis' shows the shared advice on where to get help (templates/_crisis.html):
# one text, kept in one place, wherever a module touches on feeling very low.
# "goal": the module's goal and its key points, shown first on the module's first page.
KNOWN_BLOCKS = ANSWER_BLOCKS | MEDIA_BLOCKS | {"diary", "tip", "summary", "goal", "crisis"}
# What a diary field holds: a number in a range, a step on a 0–10 style scale, or yes/no.
DIARY_KINDS = {"number", "scale", "yesno"}
# How a week of one field is summed up: the mean of the days, their total, or (yes/no) the yes days.
DIARY_SUMMARIES = {"mean", "total"}
DIARY_SETTINGS = {"min", "max", "step", "unit", "summary", "low", "high"}
# Values a patient types are stored as numbers; these bounds keep them readable and the column sane.
DIARY_LIMIT = 100_000
MODULE_KINDS = {"normal", "summary"}

log = logging.getLogger("webapp.content")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the content, with where it is and how to fix it."""

    path: str
    line: int
    message: str
    fix: str = ""
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}: {self.message}"
        return f"{text} — {self.fix}" if self.fix else text


@dataclass(frozen=True)
class DiaryField:
    """One value a diary registers, as the editor defined it (``- id kind min=… max=… | Label``)."""

    id: str
    kind: str  # number, scale or yesno
    label: str
    min: float = 0
    max: float = 1
    step: float = 1
    unit: str = ""
    summary: str = "mean"  # mean or total (yesno: the days answered yes)
    low: str = ""  # words for the low end of a scale
    high: str = ""

    @property
    def signature(self) -> tuple:
        """What must be the same in every language version: id, kind, range, step and summary."""
        return (self.id, self.kind, self.min, self.max, self.step, self.summary)


@dataclass(frozen=True)
class Segment:
    """A piece of a page: ``html`` for plain text, otherwise a block kind."""

    kind: str
    html: Markup = Markup("")
    id: str | None = None
    # Task checklist items, pre-rendered.
    items: tuple[Markup, ...] = ()
    # Extra attributes from the block line, e.g. rating ends min/max.
    attrs: dict = field(default_factory=dict)
    # Plain text of the block (image alt text).
    text: str = ""
    line: int = 0
    # The values a diary block registers.
    fields: tuple[DiaryField, ...] = ()


@dataclass(frozen=True)
class Page:
    title: str
    segments: tuple[Segment, ...]


@dataclass
class ParsedFile:
    """One language version of a module, as parsed; ``problems`` lists what is wrong."""

    path: str
    meta: dict
    pages: list[Page]
    problems: list[Problem]
    # (kind, id, line, item count) for every answer block, in order.
    answer_blocks: list[tuple[str, str, int, int]] = field(default_factory=list)
    # (id, line, fields) for every diary block, in order.
    diary_blocks: list[tuple[str, int, tuple[DiaryField, ...]]] = field(default_factory=list)
    media_refs: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, media id, line)
    module_links: list[tuple[str, int]] = field(default_factory=list)
    form_links: list[tuple[str, int]] = field(default_factory=list)
    # True when the file could not be read or parsed at all (see unreadable_file).
    unreadable: bool = False
    # The number of the file's last line (a missing block is reported there when nothing follows it).
    last_line: int = 1
    # The line of the '::: goal' block (0: the file has none), for the check across languages.
    goal_line: int = 0
    # A fingerprint of the text after the front matter (see body_hash): translations record their source's.
    body_hash: str = ""


# --- reading files and checking the kind of every value ------------------------------
#
# Every loader (modules, programmes, media, questionnaires) reads its files with
# read_content_text, checks values with typed()/text_map(), and wraps each file in
# a last-resort ``except Exception`` that calls problem_from_exception. So one
# damaged file becomes one Problem on that file, never a crash of the site.


class ContentValueError(ValueError):
    """A value in a content file that cannot be used as written; becomes a Problem on that file."""

    def __init__(self, message: str, fix: str = "", line: int = 1) -> None:
        super().__init__(message)
        self.message, self.fix, self.line = message, fix, line

    def problem(self, path: str) -> Problem:
        """The error as a Problem on ``path``."""
        return Problem(path, self.line, self.message, self.fix)


_KIND_WORDS = {
    str: "a text", int: "a whole number", float: "a number", bool: "true or false",
    list: "a list", dict: "'name: value' settings",
}
_KIND_FIXES = {
    str: "write the text after the colon; put it in quotes if it looks like a number, a list or yes/no",
    int: "write a whole number without quotes, e.g. 20",
    float: "write a number without quotes, e.g. 2.5",
    bool: "write true or false",
    list: "write a list: [a, b] on one line, or one '- …' line per entry below it",
    dict: "write 'name: value' lines indented below it, e.g. '  sv: …' for a text per language",
}


def describe(value) -> str:
    """What kind of value an editor wrote, in words (never the value itself)."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        # YAML 1.1 reads yes/no/on/off as booleans, a common surprise (no is Norwegian).
        return "true or false (YAML reads yes, no, on and off that way unless they are in quotes)"
    for kind in (int, float, str, list, dict):
        if isinstance(value, kind):
            return _KIND_WORDS[kind]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "a date"
    return "a value of another kind"


def is_kind(value, kind: type | tuple[type, ...]) -> bool:
    """Whether ``value`` is of ``kind`` as typed() means it (float takes whole numbers, only bool takes true/false)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python, but 'true' is never a number of minutes.
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int) and float in kinds:
        return True
    return isinstance(value, kinds)


def typed(value, kind: type | tuple[type, ...], name: str, *, line: int = 1, fix: str | None = None,
          default=None, must: str | None = None):
    """``value`` if it is of the kind the code expects, ``default`` if it is empty; else ContentValueError.

    ``kind`` is str, int, float, bool, list or dict, or a tuple of them; float
    accepts whole numbers, and no kind but bool accepts true/false. ``name`` is the
    setting as the editor writes it; the message says what it ``must`` be (by
    default, the kind in words) and what it is.
    """
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if is_kind(value, kinds):
        return value
    words = must or " or ".join(_KIND_WORDS[k] for k in kinds if not (k is int and float in kinds))
    raise ContentValueError(f"{name} must be {words}, not {describe(value)}",
                            fix if fix is not None else _KIND_FIXES[kinds[0]], line)


def text_map(value, name: str, *, line: int = 1) -> dict[str, str]:
    """A text per language (``title: {sv: …, en: …}``) as {language: text}; numbers count as text."""
    mapping = typed(value, dict, name, line=line, default={}, must="a text per language ('sv: …' lines below it)",
                    fix=f"write one line per language indented below '{name}:', e.g. '  sv: …'")
    texts: dict[str, str] = {}
    for lang, text in mapping.items():
        if lang == "__line__" or text is None:  # __line__: the questionnaire loader's line numbers
            continue
        texts[str(lang)] = str(typed(text, (str, float), f"{name} {lang}", line=line, must="a text",
                                     fix=_KIND_FIXES[str]))
    return texts


def line_of_key(text: str, key: str, first_line: int = 1) -> int:
    """The line where ``key:`` is first written (``first_line`` if it is not found)."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*:")
    for number, line in enumerate(text.split("\n")):
        if pattern.match(line):
            return number + first_line
    return first_line


def read_content_text(path: Path) -> str:
    """A content file's text; UnicodeDecodeError if it is not UTF-8 (a leading BOM is allowed)."""
    return path.read_bytes().decode("utf-8-sig")


YAML_FIX = "write each setting as 'name: value'; indent lists and maps consistently"


def yaml_problem(path: str, exc: yaml.YAMLError, *, first_line: int = 1, what: str = "not valid YAML",
                 fix: str = YAML_FIX) -> Problem:
    """Broken YAML as a Problem; ``first_line`` is the file line where the YAML starts."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + first_line if mark else first_line
    if isinstance(exc, yaml.reader.ReaderError):
        return Problem(path, first_line, f"{what} (it contains an invisible control character)",
                       "delete and retype the line with the odd character, or save the file again as plain UTF-8 text")
    return Problem(path, line, f"{what} ({getattr(exc, 'problem', None) or 'it cannot be read'})", fix)


def problem_from_exception(path: str, exc: Exception) -> Problem:
    """Anything raised while loading one file, as a Problem on that file: the last-resort net.

    Expected damage (a wrong kind of value, not UTF-8, broken YAML, unreadable)
    gets its own message. Anything else is a bug or damage nobody foresaw: it is
    logged with the file's path and where in our code it failed, never with the
    file's content or the exception's text (which could quote the content).
    """
    if isinstance(exc, ContentValueError):
        return exc.problem(path)
    if isinstance(exc, UnicodeDecodeError):
        data = exc.object if isinstance(exc.object, bytes) else b""
        line = data[:exc.start].count(b"\n") + 1
        return Problem(path, line, f"the file is not UTF-8 text (byte {exc.start + 1} is not a UTF-8 character)",
                       "save the file with the encoding UTF-8 (in most editors: Save as… → Encoding → UTF-8)")
    if isinstance(exc, yaml.YAMLError):
        return yaml_problem(path, exc)
    if isinstance(exc, OSError):
        return Problem(path, 1, f"the file could not be read ({exc.strerror or type(exc).__name__})",
                       "check that it is an ordinary file that may be read, not a folder or a broken link")
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    log.error("content: %s could not be loaded and is left out (%s at %s)", path, type(exc).__name__, where)
    return Problem(path, 1, "the file could not be loaded and is left out",
                   "compare it with docs/authoring.md (a value of the wrong kind is the usual cause); "
                   "if it looks right, ask a developer: the server log names this file")


def unreadable_file(path: str, problem: Problem, title: str) -> ParsedFile:
    """Stands in for a module file that could not be read: one empty page, and the problem."""
    return ParsedFile(path=path, meta={"title": title}, pages=[Page(title=title, segments=())],
                      problems=[problem], unreadable=True)


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """Return (front matter, body, line number where the body starts, 0-based)."""
    if not text.startswith("---"):
        return None, text, 0
    lines = text.split("\n")
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1:]), index + 1
    return None, text, 0


def _block_words(info: str) -> tuple[str, str | None, dict]:
    """Split ``task my-id min="a b"`` into name, id and attributes."""
    try:
        words = shlex.split(info.strip())
    except ValueError:
        words = info.strip().split()
    name = words[0] if words else ""
    block_id, attrs = None, {}
    for word in words[1:]:
        if "=" in word:
            key, _, value = word.partition("=")
            attrs[key] = value
        elif block_id is None:
            block_id = word
    return name, block_id, attrs


def _plain_text(tokens: list[Token]) -> str:
    parts = []
    for token in tokens:
        if token.type == "inline":
            parts.append("".join(child.content for child in token.children or [] if child.type in ("text", "code_inline")))
    return " ".join(p for p in parts if p).strip()


# libyaml's loader when PyYAML was built with it (the wheels are): parsing the
# front matter of a few hundred files then takes milliseconds, not a sixth of the
# catalogue's load. The pure-Python loader points at a better line in broken
# YAML, so a file libyaml refuses is read again with it for the message.
_FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str):
    """yaml.safe_load, with the C parser where there is one; errors as the Python parser reports them."""
    try:
        # Bandit B506: both loaders are PyYAML's safe ones (CSafeLoader or SafeLoader).
        return yaml.load(text, Loader=_FastLoader)  # nosec B506
    except yaml.YAMLError:
        return yaml.safe_load(text)


HASH_LENGTH = 12
SOURCE_HASH_RE = re.compile(r"^[0-9a-f]{6,64}$")


def body_hash(body: str) -> str:
    """The first 12 hex digits of SHA-256 over a module file's text after its front matter.

    Line ends and trailing spaces do not count (an editor or a checkout may change
    them); every other change of the text does. A translation records its source's
    as ``source_hash`` and shows as stale when the source's text has changed since.
    """
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return hashlib.sha256("\n".join(lines).strip("\n").encode("utf-8")).hexdigest()[:HASH_LENGTH]


def parse_module_file(text: str, path: str) -> ParsedFile:
    """Parse a module file; never raises for bad content, reports problems instead."""
    problems: list[Problem] = []
    front, body, offset = split_front_matter(text)
    meta: dict = {}
    if front is None:
        problems.append(Problem(path, 1, "the file has no front matter",
                                "start the file with a line '---', the title and kind, and another '---'"))
    else:
        try:
            meta = load_yaml(front) or {}
        except yaml.YAMLError as exc:
            # The front matter starts on line 2, after the first '---'.
            problems.append(yaml_problem(path, exc, first_line=2, what="the front matter is not valid YAML",
                                         fix="write each setting as 'name: value' on its own line"))
            meta = {}
        if not isinstance(meta, dict):
            problems.append(Problem(path, 2, f"the front matter must be 'name: value' lines, not {describe(meta)}",
                                    "write each setting as 'name: value' on its own line, e.g. 'title: …'"))
            meta = {}
    meta = _clean_meta(meta, front or "", path, problems)

    env: dict = {"module_links": [], "form_links": [], "problems": problems, "path": path, "offset": offset}
    tokens = content_parser.parse(body, env)
    parsed = ParsedFile(path=path, meta=meta, pages=[], problems=problems,
                        last_line=len(text.rstrip("\n").split("\n")), body_hash=body_hash(body))
    if meta.get("listen"):
        # Checked like an '::: audio' block: the media must exist, be audio and have a transcript.
        parsed.media_refs.append(("audio", meta["listen"], line_of_key(front or "", "listen", first_line=2)))
    _check_text(tokens, parsed, offset)
    parsed.pages = _build_pages(tokens, meta.get("title") or "", parsed, offset, env)
    parsed.module_links = env["module_links"]
    parsed.form_links = env["form_links"]
    _check_unclosed_blocks(tokens, body, parsed, offset)
    if meta.get("kind") == "summary" and not any(s.kind == "summary" for p in parsed.pages for s in p.segments):
        problems.append(Problem(path, 1, "a summary module has no '::: summary' block",
                                "add a page with the lines '::: summary' and ':::' where the summary should appear"))
    return parsed


def _clean_meta(meta: dict, front: str, path: str, problems: list[Problem]) -> dict:
    """The front matter settings the code uses, each of its expected kind.

    A value of the wrong kind is a problem (so the file is hidden from patients)
    and is left out, so nothing later trips over it; defaults fill the gaps.
    """
    clean: dict = {"kind": "normal", "version": 1}
    if not meta:
        return clean
    wrong: set[str] = set()

    def line(key: str) -> int:
        return line_of_key(front, key, first_line=2)  # the front matter starts on line 2

    def value(key: str, kind, fix: str):
        # Texts are (str, float): a title YAML reads as a number is still text; the editor is told "a text".
        must = "a text" if kind == (str, float) else None
        try:
            return typed(meta.get(key), kind, key, line=line(key), fix=fix, must=must)
        except ContentValueError as exc:
            problems.append(exc.problem(path))
            wrong.add(key)
            return None

    title = value("title", (str, float), "write the title after 'title:', in quotes if it looks like a number")
    if title is not None and str(title).strip():
        clean["title"] = str(title)
    elif "title" not in wrong:
        problems.append(Problem(path, line("title"), "the front matter has no title", "add a line 'title: …'"))
    description = value("description", (str, float), _KIND_FIXES[str])
    if description is not None:
        clean["description"] = str(description)
    kind = value("kind", str, "write 'kind: normal' or 'kind: summary'")
    if kind in MODULE_KINDS:
        clean["kind"] = kind
    elif kind is not None:
        problems.append(Problem(path, line("kind"), f"kind {kind!r} is unknown", "write 'kind: normal' or 'kind: summary'"))
    minutes = value("minutes", int, "e.g. 'minutes: 20'")
    if minutes is not None and minutes > 0:
        clean["minutes"] = minutes
    elif minutes is not None:
        problems.append(Problem(path, line("minutes"), "minutes must be a whole number above zero", "e.g. 'minutes: 20'"))
    # Who translated and reviewed a translation, and when (the editor's catalogue shows them).
    for key in ("translated_by", "reviewed_by"):
        person = value(key, (str, float), "write the name after the colon, e.g. 'reviewed_by: Leila Ahmadi'")
        if person is not None and str(person).strip():
            clean[key] = str(person).strip()
    reviewed_on = meta.get("reviewed_on")
    if isinstance(reviewed_on, datetime.date) and not isinstance(reviewed_on, datetime.datetime):
        clean["reviewed_on"] = reviewed_on
    elif reviewed_on is not None:
        problems.append(Problem(path, line("reviewed_on"), f"reviewed_on must be a date, not {describe(reviewed_on)}",
                                "write the date as yyyy-mm-dd without quotes, e.g. 'reviewed_on: 2026-12-01'"))
    # An optional read-aloud recording of the whole module: an audio media id.
    listen = value("listen", str, "write the id of an audio in media/, e.g. 'listen: pain-info-sv'")
    if listen:
        clean["listen"] = listen
    _clean_source_hash(value("source_hash", (str, int), SOURCE_HASH_FIX), clean, path, line, problems)
    for key in ("version", "translates"):
        number = value(key, int, f"e.g. '{key}: 1'")
        if number is not None and number >= 1:
            clean[key] = number
        elif number is not None:
            problems.append(Problem(path, line(key), f"{key} must be a whole number, 1 or more", f"e.g. '{key}: 1'"))
    return clean


SOURCE_HASH_FIX = "copy the source's fingerprint from the coverage table, e.g. 'source_hash: 3f2a9c0b1d4e'"


def _clean_source_hash(raw, clean: dict, path: str, line, problems: list[Problem]) -> None:
    """A translation's record of its source's fingerprint (body_hash): hex digits, in quotes or not."""
    if raw is None:
        return
    text = str(raw).strip().lower()
    if SOURCE_HASH_RE.match(text):
        clean["source_hash"] = text
    else:
        problems.append(Problem(path, line("source_hash"), "source_hash must be hex digits 0-9 and a-f (6 or more)",
                                SOURCE_HASH_FIX))


def _check_text(tokens: list[Token], parsed: ParsedFile, offset: int) -> None:
    """Report HTML and unsafe links written in the text (they are shown as text)."""
    for token in tokens:
        if token.type == "html_block":
            line = (token.map[0] if token.map else 0) + offset + 1
            parsed.problems.append(Problem(parsed.path, line, "HTML is not allowed in content",
                                           "write plain Markdown, or use a ':::' block"))
        if token.type != "inline":
            continue
        line = (token.map[0] if token.map else 0) + offset + 1
        text = "".join(child.content for child in token.children or [] if child.type == "text")
        if HTML_RE.search(text):
            parsed.problems.append(Problem(parsed.path, line, "HTML is not allowed in content (patients would see the tags as text)",
                                           "remove the tags and use Markdown such as **bold** or a ':::' block"))
        if BAD_LINK_RE.search(token.content):
            parsed.problems.append(Problem(parsed.path, line, "a javascript:, data: or file: link is not allowed",
                                           "link to a web page (https://…) or to a module (module:<id>)"))


def _check_unclosed_blocks(tokens: list[Token], body: str, parsed: ParsedFile, offset: int) -> None:
    """An unclosed ':::' block silently swallows the rest of the file: report it."""
    opens = [t for t in tokens if t.type == "container_block_open"]
    closing_lines = sum(1 for line in body.split("\n") if line.strip() == ":::")
    if len(opens) > closing_lines:
        last = opens[-1]
        line = (last.map[0] if last.map else 0) + offset + 1
        parsed.problems.append(Problem(parsed.path, line, "a block is not closed",
                                       "end every ':::' block with a line that has only ':::'"))


def _build_pages(tokens: list[Token], module_title: str, parsed: ParsedFile, offset: int, env: dict) -> list[Page]:
    # Page breaks are the top-level "##" headings, found before any tag changes.
    breaks = {id(t) for t in tokens if t.type == "heading_open" and t.tag == "h2" and t.level == 0}
    # A page's title is its h1, so "###" inside a page is the next level down:
    # render h3..h6 one level up to keep the outline whole.
    for token in tokens:
        if token.type in ("heading_open", "heading_close") and token.tag in ("h3", "h4", "h5", "h6"):
            token.tag = f"h{int(token.tag[1]) - 1}"
    pages: list[Page] = []
    title = module_title
    current: list[Segment] = []
    html_run: list[Token] = []

    def flush_html() -> None:
        if html_run:
            html = content_parser.renderer.render(html_run, content_parser.options, env)
            if html.strip():
                # Bandit B704: input is our own escaping renderer's output.
                current.append(Segment(kind="html", html=Markup(html)))  # nosec B704
            html_run.clear()

    index = 0
    started = False
    while index < len(tokens):
        token = tokens[index]
        if id(token) in breaks:
            flush_html()
            if current or started:
                pages.append(Page(title=title, segments=tuple(current)))
            current = []
            started = True
            title = tokens[index + 1].content.strip()
            index += 3  # heading_open, inline, heading_close
            continue
        if token.type == "container_block_open" and token.level == 0:
            flush_html()
            end = _after_matching(tokens, index, "container_block")
            env["pages_before"] = len(pages)
            segment = _block_segment(token, tokens[index + 1:end - 1], parsed, offset, env)
            if segment is not None:
                current.append(segment)
            index = end
            continue
        html_run.append(token)
        index += 1
    flush_html()
    if current or started or not pages:
        pages.append(Page(title=title, segments=tuple(current)))
    return pages


def _render(tokens: list[Token], env: dict) -> Markup:
    # Bandit B704: markdown-it output with raw HTML off.
    return Markup(content_parser.renderer.render(tokens, content_parser.options, env))  # nosec B704


def _check_placement(name: str, attrs: dict, problem) -> None:
    """``placement=top``: an audio block that reads the page aloud, shown first on the page."""
    placement = attrs.get("placement")
    if placement not in (None, "top") or (placement and name != "audio"):
        problem(f"placement={placement!r} is not known for a {name}",
                "write placement=top on an audio block that reads the page aloud, or leave it out")
        attrs.pop("placement", None)


def _after_matching(tokens: list[Token], index: int, kind: str) -> int:
    """The index just after the ``<kind>_close`` that matches the ``<kind>_open`` at ``tokens[index]`` (nesting counted)."""
    depth, end = 1, index + 1
    while end < len(tokens) and depth:
        if tokens[end].type == f"{kind}_open":
            depth += 1
        elif tokens[end].type == f"{kind}_close":
            depth -= 1
        end += 1
    return end


def _list_end(inner: list[Token], index: int) -> int:
    """The index just after the bullet list that opens at ``inner[index]`` (nested lists included)."""
    return _after_matching(inner, index, "bullet_list")


def _split_list(inner: list[Token], env: dict) -> tuple[list[Markup], list[Token]]:
    """The items of a block's first top-level list, pre-rendered, and the block's other tokens."""
    items: list[Markup] = []
    rest: list[Token] = []
    index = 0
    while index < len(inner):
        token = inner[index]
        if token.type == "bullet_list_open" and token.level == 1 and not items:
            end = _list_end(inner, index)
            for item_token in inner[index:end]:
                if item_token.type == "inline" and item_token.level == 4:
                    # Bandit B704: markdown-it output with raw HTML off.
                    items.append(Markup(content_parser.renderer.renderInline(item_token.children or [], content_parser.options, env)))  # nosec B704
            index = end
            continue
        rest.append(token)
        index += 1
    return items, rest
def _has_valid_id(name: str, block_id: str | None, problem) -> bool:
    """Whether a block that needs an id has a usable one; reports it if not."""
    if not block_id:
        problem(f"the '{name}' block has no id", f"write '::: {name} some-id' (lower-case letters, digits, hyphens)")
        return False
    if not ID_RE.match(block_id):
        problem(f"'{block_id}' is not a valid id", "use 3–64 lower-case letters, digits and hyphens, e.g. pain-diary")
        return False
    return True


def _block_segment(open_token: Token, inner: list[Token], parsed: ParsedFile, offset: int, env: dict) -> Segment | None:
    name, block_id, attrs = _block_words(open_token.info)
    line = (open_token.map[0] if open_token.map else 0) + offset + 1
    path = parsed.path

    def problem(message: str, fix: str = "") -> None:
        parsed.problems.append(Problem(path, line, message, fix))

    if name not in KNOWN_BLOCKS:
        problem(f"unknown block '{name}'", "use one of: " + ", ".join(sorted(KNOWN_BLOCKS)))
        return None
    if name in ANSWER_BLOCKS | MEDIA_BLOCKS | {"diary"} and not _has_valid_id(name, block_id, problem):
        return None

    if name == "goal":
        items, rest = _split_list(inner, env)
        if parsed.goal_line:
            problem(f"the module already has a goal (line {parsed.goal_line})", "keep one '::: goal' block per module")
        elif env.get("pages_before", 0):
            problem("the goal belongs on the module's first page", "move the '::: goal' block before the first '##' page break that follows it")
        parsed.goal_line = parsed.goal_line or line
        if not _plain_text(rest):
            problem("the goal block does not say what the goal is", "write one or two sentences about the goal above the list")
        if not items:
            problem("the goal block has no key points", "add the key points as a list: lines starting with '- '")
        return Segment(kind="goal", html=_render(rest, env), items=tuple(items), line=line)

    if name == "task":
        items, rest = _split_list(inner, env)
        if not items:
            problem("the task has no list of things to tick off", "add a list: lines starting with '- '")
        parsed.answer_blocks.append(("task", block_id, line, len(items)))
        return Segment(kind="task", id=block_id, html=_render(rest, env), items=tuple(items), line=line)

    if name in ("reflection", "rating"):
        if not _plain_text(inner):
            problem(f"the {name} block has no question", "write the question on the lines inside the block")
        if name == "rating" and not ({"min", "max"} <= attrs.keys()):
            problem("the rating block needs words for both ends of the scale",
                    'write e.g. ::: rating my-id min="Not at all" max="Completely"')
        parsed.answer_blocks.append((name, block_id, line, 0))
        return Segment(kind=name, id=block_id, html=_render(inner, env), attrs=attrs, line=line)

    if name == "diary":
        return _diary_segment(block_id, inner, parsed, offset, line, env, problem)

    if name in MEDIA_BLOCKS:
        parsed.media_refs.append((name, block_id, line))
        text = _plain_text(inner)
        if name == "image" and not text:
            problem("the image has no alt text", "write a sentence inside the block that describes the picture")
        _check_placement(name, attrs, problem)
        return Segment(kind=name, id=block_id, html=_render(inner, env), text=text, attrs=attrs, line=line)

    if name == "crisis":
        if _plain_text(inner):
            problem("the crisis block takes no text: it shows the shared advice on where to get help",
                    "write only the lines '::: crisis' and ':::', and put your own words outside the block")
        return Segment(kind="crisis", line=line)

    if name == "summary" and parsed.meta.get("kind") != "summary":
        problem("a '::: summary' block is only allowed in a module of kind summary", "set 'kind: summary' or remove the block")
    return Segment(kind=name, html=_render(inner, env), line=line)


def _diary_segment(block_id: str, inner: list[Token], parsed: ParsedFile, offset: int, line: int, env: dict,
                   problem) -> Segment:
    """A '::: diary' block: its text, and the values its list defines (checked one by one)."""
    rest, fields = _diary_fields(inner, parsed, offset, line, env)
    if not _plain_text(rest):
        problem("the diary block has no text", "write a sentence inside the block that says what to register and how often")
    if not fields:
        problem("the diary has no values to register",
                "add a list with one line per value, e.g. '- pain scale min=0 max=10 | Pain today'")
    parsed.diary_blocks.append((block_id, line, fields))
    return Segment(kind="diary", id=block_id, html=_render(rest, env), fields=fields, line=line)


_DIARY_EXAMPLE = "e.g. '- activity number min=0 max=600 step=5 unit=min summary=total | Minutes of activity'"


def _diary_fields(inner: list[Token], parsed: ParsedFile, offset: int, block_line: int,
                  env: dict) -> tuple[list[Token], tuple[DiaryField, ...]]:
    """The diary's first list as fields (one per item), and the other tokens (the text shown above the form)."""
    rest: list[Token] = []
    fields: list[DiaryField] = []
    index = 0
    seen_list = False
    while index < len(inner):
        token = inner[index]
        if token.type == "bullet_list_open" and token.level == 1 and not seen_list:
            seen_list = True
            end = _list_end(inner, index)
            for item in inner[index:end]:
                if item.type == "inline" and item.level == 4:
                    line = (item.map[0] + offset + 1) if item.map else block_line
                    found = _diary_field(item.content, parsed.path, line, parsed.problems)
                    if found is None:
                        continue
                    if any(f.id == found.id for f in fields):
                        parsed.problems.append(Problem(parsed.path, line, f"the diary has two values called '{found.id}'",
                                                       "give each value its own id"))
                        continue
                    fields.append(found)
            index = end
            continue
        rest.append(token)
        index += 1
    return rest, tuple(fields)


def _diary_number(word: str, value: str, path: str, line: int, problems: list[Problem]) -> float | None:
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        number = None
    if number is None or number != number or abs(number) > DIARY_LIMIT:  # NaN is not equal to itself
        problems.append(Problem(path, line, f"{word}={value!r} is not a number",
                                f"write {word}= and a number between -{DIARY_LIMIT} and {DIARY_LIMIT}, e.g. {word}=10"))
        return None
    return number


def _diary_field(source: str, path: str, line: int, problems: list[Problem]) -> DiaryField | None:
    """One list line of a diary, ``id kind setting=value … | Label``; None (and a problem) if it cannot be used."""
    settings_text, bar, label = source.partition("|")
    label = label.strip()
    name, kind, attrs = _block_words(settings_text)
    before = len(problems)

    def problem(message: str, fix: str = _DIARY_EXAMPLE) -> None:
        problems.append(Problem(path, line, message, fix))

    if not bar or not label:
        problem("a diary value needs a label after '|'")
    if not ID_RE.match(name or ""):
        problem(f"'{name}' is not a valid id for a diary value", "use 3–64 lower-case letters, digits and hyphens, e.g. pain")
    if kind not in DIARY_KINDS:
        problem(f"the diary value '{name}' has the kind {kind!r}", "write number, scale or yesno after the id")
    for key in attrs.keys() - DIARY_SETTINGS:
        problem(f"{key}= is not a setting of a diary value", "use " + ", ".join(sorted(DIARY_SETTINGS)))
    numbers = {}
    for key in ("min", "max", "step"):
        if key in attrs:
            numbers[key] = _diary_number(key, attrs[key], path, line, problems)
    summary = attrs.get("summary", "mean")
    if summary not in DIARY_SUMMARIES:
        problem(f"summary={summary!r} is not known", "write summary=mean or summary=total")
    if len(problems) > before:
        return None
    if kind == "yesno":
        low, high, step = 0.0, 1.0, 1.0
        if {"min", "max", "step"} & attrs.keys():
            problem("a yesno value has no min, max or step", "remove them: the answer is yes or no")
            return None
    else:
        if kind == "number" and not {"min", "max"} <= attrs.keys():
            problem(f"the diary value '{name}' needs min= and max=", "write the range a value may have, e.g. min=0 max=24")
            return None
        low = numbers.get("min", 0.0)
        high = numbers.get("max", 10.0)
        step = numbers.get("step", 1.0)
        if low >= high:
            problem(f"min= must be below max= for '{name}'", "e.g. min=0 max=10")
            return None
        if step <= 0 or step > high - low:
            problem(f"step= must be above 0 and at most max minus min for '{name}'", "e.g. step=0.5 for half hours")
            return None
        if kind == "scale" and ((high - low) / step > 20 or (high - low) / step != int((high - low) / step)):
            problem(f"the scale '{name}' must have at most 21 steps from min to max", "e.g. min=0 max=10 (step=1)")
            return None
    return DiaryField(id=name, kind=kind, label=label, min=low, max=high, step=step, unit=attrs.get("unit", ""),
                      summary=summary, low=attrs.get("low", ""), high=attrs.get("high", ""))
