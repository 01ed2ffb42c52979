"""Pages that are the same for every visitor in a language, rendered once per language.

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
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, make_response, request, session
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

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
    config = current_app.config
    return (request.method == "GET" and not request.query_string and not current_user.is_authenticated
            and not any(key in session for key in _ONE_OFF_KEYS)
            and not (current_app.debug or config.get("CONTENT_AUTO_RELOAD") or config.get("TEMPLATES_AUTO_RELOAD")))
