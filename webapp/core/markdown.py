"""Safe Markdown for text written by editors, clinicians and patients.

markdown-it-py's "js-default" preset has raw HTML off, so ``<script>`` in the
source is shown as text. Link targets are validated by markdown-it (no
``javascript:``, ``vbscript:``, ``file:`` or non-image ``data:`` URLs), and
external links get ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup


def _make_parser() -> MarkdownIt:
    md = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
    default_link_open = md.renderer.rules.get("link_open")

    def link_open(tokens, idx, options, env):
        href = tokens[idx].attrGet("href") or ""
        if href.startswith(("http://", "https://", "//")):
            tokens[idx].attrSet("rel", "noopener noreferrer")
        if default_link_open:
            return default_link_open(tokens, idx, options, env)
        return md.renderer.renderToken(tokens, idx, options, env)

    md.renderer.rules["link_open"] = link_open
    return md


_parser = _make_parser()


def render_markdown(source: str) -> Markup:
    """Render Markdown to HTML that is safe to put in a page as is."""
    # The parser escapes everything it does not turn into its own markup.
    return Markup(_parser.render(source or ""))
