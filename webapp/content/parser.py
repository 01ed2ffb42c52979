"""Parse one module file (front matter + Markdown + ``:::`` blocks) into pages.

A page is a list of segments: pre-rendered HTML, or a block (reflection, task,
rating, audio, video, image, tip, summary) whose text is pre-rendered and whose
interactive part is drawn by our templates at request time. Nothing here needs
an app, so the ``content check`` command and unit tests use it directly.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

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
KNOWN_BLOCKS = ANSWER_BLOCKS | MEDIA_BLOCKS | {"tip", "summary"}
MODULE_KINDS = {"normal", "summary"}


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
    media_refs: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, media id, line)
    module_links: list[tuple[str, int]] = field(default_factory=list)
    form_links: list[tuple[str, int]] = field(default_factory=list)


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
            mark = getattr(exc, "problem_mark", None)
            line = (mark.line + 2) if mark else 1
            problems.append(Problem(path, line, f"the front matter is not valid YAML ({getattr(exc, 'problem', exc)})",
                                    "write each setting as 'name: value' on its own line"))
            meta = {}
        if not isinstance(meta, dict):
            problems.append(Problem(path, 2, "the front matter must be 'name: value' lines"))
            meta = {}
    _check_meta(meta, path, problems)

    env: dict = {"module_links": [], "form_links": [], "problems": problems, "path": path, "offset": offset}
    tokens = content_parser.parse(body, env)
    parsed = ParsedFile(path=path, meta=meta, pages=[], problems=problems)
    _check_text(tokens, parsed, offset)
    parsed.pages = _build_pages(tokens, meta.get("title") or "", parsed, offset, env)
    parsed.module_links = env["module_links"]
    parsed.form_links = env["form_links"]
    _check_unclosed_blocks(tokens, body, parsed, offset)
    if meta.get("kind") == "summary" and not any(s.kind == "summary" for p in parsed.pages for s in p.segments):
        problems.append(Problem(path, 1, "a summary module has no '::: summary' block",
                                "add a page with the lines '::: summary' and ':::' where the summary should appear"))
    return parsed


def _check_meta(meta: dict, path: str, problems: list[Problem]) -> None:
    if not meta:
        return
    if not isinstance(meta.get("title"), str) or not meta["title"].strip():
        problems.append(Problem(path, 2, "the front matter has no title", "add a line 'title: …'"))
    if meta.get("kind", "normal") not in MODULE_KINDS:
        problems.append(Problem(path, 2, f"kind {meta.get('kind')!r} is unknown", "write 'kind: normal' or 'kind: summary'"))
    minutes = meta.get("minutes")
    if minutes is not None and (not isinstance(minutes, int) or minutes <= 0):
        problems.append(Problem(path, 2, "minutes must be a whole number above zero", "e.g. 'minutes: 20'"))
    for key in ("version", "translates"):
        if key in meta and (not isinstance(meta[key], int) or meta[key] < 1):
            problems.append(Problem(path, 2, f"{key} must be a whole number, 1 or more", f"e.g. '{key}: 1'"))


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
            depth, end = 1, index + 1
            while end < len(tokens) and depth:
                if tokens[end].type == "container_block_open":
                    depth += 1
                elif tokens[end].type == "container_block_close":
                    depth -= 1
                end += 1
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


def _block_segment(open_token: Token, inner: list[Token], parsed: ParsedFile, offset: int, env: dict) -> Segment | None:
    name, block_id, attrs = _block_words(open_token.info)
    line = (open_token.map[0] if open_token.map else 0) + offset + 1
    path = parsed.path

    def problem(message: str, fix: str = "") -> None:
        parsed.problems.append(Problem(path, line, message, fix))

    if name not in KNOWN_BLOCKS:
        problem(f"unknown block '{name}'", "use one of: " + ", ".join(sorted(KNOWN_BLOCKS)))
        return None
    needs_id = name in ANSWER_BLOCKS | MEDIA_BLOCKS
    if needs_id and not block_id:
        problem(f"the '{name}' block has no id", f"write '::: {name} some-id' (lower-case letters, digits, hyphens)")
        return None
    if needs_id and not ID_RE.match(block_id):
        problem(f"'{block_id}' is not a valid id", "use 3–64 lower-case letters, digits and hyphens, e.g. pain-diary")
        return None

    if name == "task":
        items: list[Markup] = []
        rest: list[Token] = []
        index = 0
        while index < len(inner):
            token = inner[index]
            if token.type == "bullet_list_open" and token.level == 1 and not items:
                depth, end = 1, index + 1
                while end < len(inner) and depth:
                    if inner[end].type == "bullet_list_open":
                        depth += 1
                    elif inner[end].type == "bullet_list_close":
                        depth -= 1
                    end += 1
                for item_token in inner[index:end]:
                    if item_token.type == "inline" and item_token.level == 4:
                        # Bandit B704: markdown-it output with raw HTML off.
                        items.append(Markup(content_parser.renderer.renderInline(item_token.children or [], content_parser.options, env)))  # nosec B704
                index = end
                continue
            rest.append(token)
            index += 1
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

    if name in MEDIA_BLOCKS:
        parsed.media_refs.append((name, block_id, line))
        text = _plain_text(inner)
        if name == "image" and not text:
            problem("the image has no alt text", "write a sentence inside the block that describes the picture")
        return Segment(kind=name, id=block_id, html=_render(inner, env), text=text, line=line)

    if name == "summary" and parsed.meta.get("kind") != "summary":
        problem("a '::: summary' block is only allowed in a module of kind summary", "set 'kind: summary' or remove the block")
    return Segment(kind=name, html=_render(inner, env), line=line)
