"""Safe Markdown for text written by editors, clinicians and patients.

markdown-it-py's "js-default" preset has raw HTML off, so ``<script>`` in the
source is shown as text. Link targets are validated by markdown-it (no
``javascript:``, ``vbscript:``, ``file:`` or non-image ``data:`` URLs), and
external links get ``rel="noopener noreferrer"``.

Two parsers: ``render_markdown`` for text people type (welcome texts), and
``content_parser`` for programme content, which also knows ``:::`` blocks and
``module:``/``form:`` links.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.container import container_plugin


def _external_links_open_safely(md: MarkdownIt) -> None:
    default = md.renderer.rules.get("link_open")

    def link_open(tokens, idx, options, env):
        href = tokens[idx].attrGet("href") or ""
        if href.startswith(("http://", "https://", "//")):
            tokens[idx].attrSet("rel", "noopener noreferrer")
        if default:
            return default(tokens, idx, options, env)
        return md.renderer.renderToken(tokens, idx, options, env)

    md.renderer.rules["link_open"] = link_open


def _safe_parser() -> MarkdownIt:
    md = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
    _external_links_open_safely(md)
    return md


def _content_links(state) -> None:
    """Turn ``module:<id>`` and ``form:<id>`` links into site links, noting them for checks.

    Module links are relative (``../<id>/1``) so they work both on the patient's
    module pages and in the editor's preview, which have the same shape.
    """
    env = state.env
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        line = (block.map[0] if block.map else 0) + env.get("offset", 0) + 1
        for token in block.children:
            if token.type != "link_open":
                continue
            href = token.attrGet("href") or ""
            if href.startswith("module:"):
                target = href.split(":", 1)[1]
                env.setdefault("module_links", []).append((target, line))
                token.attrSet("href", f"../{target}/1")
            elif href.startswith("form:"):
                target = href.split(":", 1)[1]
                env.setdefault("form_links", []).append((target, line))
                token.attrSet("href", f"/forms/{target}")


def _make_content_parser() -> MarkdownIt:
    md = _safe_parser()
    # One container type for every ':::' block; the block name is the first word.
    md.use(container_plugin, name="block", validate=lambda params, *args: bool(params.strip()))
    md.core.ruler.push("lotsa_content_links", _content_links)
    # markdown-it refuses unknown URL schemes only for javascript:/vbscript:/file:/data:,
    # so module: and form: pass and are rewritten above.
    return md


_user_parser = _safe_parser()
content_parser = _make_content_parser()


def render_markdown(source: str) -> Markup:
    """Render Markdown someone typed to HTML that is safe to put in a page as is."""
    # The parser escapes everything it does not turn into its own markup.
    # Bandit B704: markdown-it output with raw HTML off (property-tested).
    return Markup(_user_parser.render(source or ""))  # nosec B704
