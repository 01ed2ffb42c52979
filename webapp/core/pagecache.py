"""Pages and parts of pages that are the same for many requests, rendered once and kept.

The login page is what every patient and clinician opens first, and for a
visitor who is not logged in it depends on nothing but the language: its text,
the configured e-ID buttons and the static files' fingerprints, all fixed for
the life of a release. The one part that differs per visitor is the CSRF token
in its forms. A page marked ``@same_for_every_visitor`` is therefore rendered
by its view the first time, kept with the token cut out, and afterwards served
from memory with the visitor's own token put back.

The view runs as usual (and nothing is kept or served from memory) whenever
the page could differ: a logged-in user, a method other than GET, a query
string (``?next=…``, which the page carries into its form), a message waiting
to be shown (flashes, or why the last session ended), and whenever templates
may change under the running app (development, CONTENT_AUTO_RELOAD).

The site header of every page is kept the same way (``site_header``), per
language, role, page and unread count, with the token and the page's own
address put back.
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, make_response, request, session
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_context
from markupsafe import Markup, escape

# Where the token was; no CSRF token (URL-safe base64 and dots) can contain it.
_HOLE = "\x00csrf\x00"
# Session keys that make a page show something once (core.drafts, auth.views).
_ONE_OFF_KEYS = ("_flashes", "session_end_reason")


def same_for_every_visitor(view):
    """Serve this view's GET page for visitors from memory, per language and endpoint (see the module)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not _may_keep():
            return view(*args, **kwargs)
        # Per application: its configuration (e-ID buttons, languages) is part of the page.
        kept: dict[tuple[str, str], str] = current_app.extensions.setdefault("lotsa_page_cache", {})
        key = (request.endpoint or "", str(get_locale()))
        page = kept.get(key)
        if page is not None:
            return page.replace(_HOLE, generate_csrf())
        response = make_response(view(*args, **kwargs))
        token = generate_csrf()
        if response.status_code == 200 and response.mimetype == "text/html" and not response.headers.getlist(
                "Set-Cookie"):
            html = response.get_data(as_text=True)
            if token in html and _HOLE not in html:
                kept[key] = html.replace(token, _HOLE)
        return response

    return wrapped


def _may_keep() -> bool:
    return (request.method == "GET" and not request.query_string and not current_user.is_authenticated
            and not any(key in session for key in _ONE_OFF_KEYS) and not _templates_may_change())


def _templates_may_change() -> bool:
    config = current_app.config
    return bool(current_app.debug or config.get("CONTENT_AUTO_RELOAD") or config.get("TEMPLATES_AUTO_RELOAD"))


# Where the page's address goes; no escaped address can contain it.
_NEXT_HOLE = "\x00next\x00"
#: Headers kept per application at most (endpoints x roles x languages x unread counts).
HEADERS_KEPT = 4096


@pass_context
def site_header(context) -> Markup:
    """The page header (templates/_site_header.html), rendered once per key and kept.

    Every page has it and it was a good part of a page's rendering (issue 25):
    two dozen links and translations that depend only on the language, the
    user's role, the page (which link is current) and the unread count. The
    CSRF token and the page's own address (the language form's ``next``) are
    put back per request. Nothing is kept while templates may change under the
    running app (development, CONTENT_AUTO_RELOAD).
    """
    role = current_user.role if current_user.is_authenticated else None
    key = (context.get("current_locale"), role, request.endpoint, context.get("unread_count"))
    keep = not _templates_may_change()
    kept: dict[tuple, str] = current_app.extensions.setdefault("lotsa_site_headers", {})
    html = kept.get(key) if keep else None
    if html is None:
        template = current_app.jinja_env.get_template("_site_header.html")
        html = template.render({**context.get_all(), "header_csrf": _HOLE, "header_next": _NEXT_HOLE})
        if keep and len(kept) < HEADERS_KEPT:
            kept[key] = html
    page = request.full_path if request.method == "GET" else ""
    # Bandit B704: the kept header is our own template's output; the address is escaped here.
    return Markup(html.replace(_HOLE, generate_csrf()).replace(_NEXT_HOLE, str(escape(page))))  # nosec B704

