"""Interface languages: locale selection, text direction and the translate CLI.

Interface strings live in gettext catalogues under translations/ (English msgids,
complete sv, en, ar and fa catalogues). Content is translated as Markdown files per
language instead; see docs/authoring.md.
"""

from __future__ import annotations

import functools

# Bandit B404: runs pybabel with fixed arguments.
import subprocess  # nosec B404
import sys

import click
from babel import Locale
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

from webapp.config import PROJECT_ROOT
from webapp.core.languages import base_language, direction, language_of

# Names of the languages in their own language, for the language switcher.
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English", "ar": "العربية", "fa": "فارسی"}

# Names of the languages in the reader's language, for sentences such as
# "shown in Swedish" (an autonym in another script would break the sentence).
LANGUAGE_LABELS = {"sv": _l("Swedish"), "en": _l("English"), "ar": _l("Arabic"), "fa": _l("Persian")}


def language_label(code: str | None) -> str:
    """The name of a language in the current interface language ('Swedish', 'سوئدی')."""
    code = base_language(code)
    label = LANGUAGE_LABELS.get(code)
    return str(label) if label is not None else LANGUAGE_NAMES.get(code, code)


def select_locale() -> Locale:
    """Flask-Babel's locale selector: ``locale_code()`` as a Locale, parsed once per language.

    Flask-Babel parses a code anew on every request; a Locale is returned as it is.
    """
    return _parsed(locale_code())


@functools.lru_cache(maxsize=16)
def _parsed(code: str) -> Locale:
    return Locale.parse(code)


def locale_code() -> str:
    """The logged-in user's language, else the visitor's choice, else the browser's."""
    languages = current_app.config["LANGUAGES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():
        return default  # the scheduler renders with force_locale() instead
    if current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or default


def text_direction(locale: str | None = None) -> str:
    return direction(str(locale or get_locale() or "sv"))


def _page_language() -> str:
    return base_language(str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]))


def lang_attrs(value, always: bool = False) -> Markup:
    """`` lang="sv" dir="ltr"`` for an element holding ``value`` (a ``Text``, an object with
    ``lang``, or a language code) when its language is not the page's; empty otherwise.

    ``always`` writes them even in a page of the same language (a block that must
    keep its direction when copied or printed on its own).
    """
    lang = value if isinstance(value, str) and not hasattr(value, "lang") else language_of(value)
    if not lang or (not always and base_language(lang) == _page_language()):
        return Markup("")
    return Markup(' lang="%s" dir="%s"') % (lang, direction(lang))


def in_language(value) -> Markup:
    """A content text in a ``<span>`` with its own ``lang`` and ``dir`` when it is not in the page's language.

    Titles, questionnaire texts and option labels are ``Text`` values that know
    their language (``webapp.core.languages.choose``); plain strings pass unchanged.
    """
    if value is None:
        return Markup("")
    attrs = lang_attrs(value)
    if not attrs:
        return Markup("%s") % value
    return Markup("<span%s>%s</span>") % (attrs, value)


def template_gettext(translations) -> dict:
    """``_``/``gettext``/``ngettext``/``pgettext`` for one render, bound to ``translations``.

    Jinja's i18n extension looks these names up in the template context before
    its globals, so a page with a hundred strings asks Flask-Babel for the
    current translations once instead of once a string. They behave as the
    extension's "newstyle" callables: escaped when autoescaping, then
    %-formatted with the keyword arguments.
    """

    def finish(context, text, variables):
        if context.eval_ctx.autoescape:
            # Bandit B704: the text is our own catalogue's; Markup's % escapes every variable.
            text = Markup(text)  # nosec B704
        return text % variables if variables else text

    @pass_context
    def gettext(context, string, **variables):
        return finish(context, translations.ugettext(string), variables)

    @pass_context
    def ngettext(context, singular, plural, num, **variables):
        variables.setdefault("num", num)
        return finish(context, translations.ungettext(singular, plural, num), variables)

    @pass_context
    def pgettext(context, message_context, string, **variables):
        return finish(context, translations.upgettext(message_context, string), variables)

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext, "pgettext": pgettext}


def init_i18n(app: Flask) -> None:
    languages = {code: LANGUAGE_NAMES.get(code, code) for code in app.config["LANGUAGES"]}

    @app.context_processor
    def _i18n_context():
        locale = str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])
        return {
            "current_locale": locale,
            "text_direction": text_direction(locale),
            "language_names": languages,
            **template_gettext(get_translations()),
        }

    app.jinja_env.filters["lang"] = in_language
    # Globals, not context: macros imported without context (summaries, answer blocks) use them too.
    app.jinja_env.globals["lang_attrs"] = lang_attrs
    app.jinja_env.globals["language_label"] = language_label
    app.cli.add_command(translate)


def _pybabel(*args: str) -> None:
    cmd = [sys.executable, "-m", "babel.messages.frontend", *args]
    # Bandit B603: fixed argument list, no shell.
    result = subprocess.run(cmd, cwd=PROJECT_ROOT)  # nosec B603
    if result.returncode:
        raise click.ClickException(f"pybabel {' '.join(args)} failed")


@click.group()
def translate() -> None:
    """Interface translations: extract, update and compile the catalogues."""


@translate.command()
def extract() -> None:
    """Collect every interface string into translations/messages.pot."""
    _pybabel("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--add-comments=i18n:",
             "--no-location", "--sort-output", "-o", "translations/messages.pot", ".")


@translate.command()
def update() -> None:
    """Extract, then merge new strings into every catalogue."""
    extract.callback()
    _pybabel("update", "--no-fuzzy-matching", "--ignore-obsolete", "-i", "translations/messages.pot",
             "-d", "translations")
    fill_source_catalogue("en")


def fill_source_catalogue(locale: str) -> None:
    """Msgids are English, so the English catalogue is the msgids themselves."""
    from babel.messages.pofile import read_po, write_po

    path = PROJECT_ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, (tuple, list)):
            message.string = (message.id[0], message.id[1])
        else:
            message.string = message.id
        message.flags.discard("fuzzy")
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False)


@translate.command()
def compile() -> None:  # noqa: A001 - the command is called "compile"
    """Compile the catalogues (.po) into the binary files (.mo) the app reads."""
    compile_catalogues()


def compile_catalogues() -> None:
    """Compile every translations/<lang>/LC_MESSAGES/messages.po in-process."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in sorted((PROJECT_ROOT / "translations").glob("*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=po_path.parent.parent.name)
        with po_path.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog)
