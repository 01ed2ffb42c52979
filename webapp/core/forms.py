"""Form pieces every feature shares (Flask-WTF is the one form idiom).

Each feature declares its forms in its own ``forms.py`` and renders them with
the macros in ``templates/_form.html`` (``field``, ``error_summary``). Field
messages are lazy translations, so they follow the reader's language.
"""

from __future__ import annotations

from functools import lru_cache

from babel import support
from flask import current_app, flash
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField
from wtforms.i18n import messages_path
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.core.dates import in_planning_range
from webapp.core.numbers import INT_MAX, int_or_none, parse_int


class Form(FlaskForm):
    """The base of every form: Flask-WTF's, with WTForms' own messages read once per language.

    Flask-WTF reads WTForms' message catalogue from disk again on every request
    that makes a form (a third of the login page's work); the catalogues only
    change with a release, so each language's is kept for the process.
    """

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return _wtforms_messages(str(get_locale()))


@lru_cache(maxsize=16)
def _wtforms_messages(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class WholeNumberField(IntegerField):
    """A whole number in ASCII digits within the database's range (``core.numbers``).

    WTForms' own IntegerField takes digits of any script and any length; this
    one refuses them with a field message, and keeps what was typed.
    """

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        if not (valuelist[0] or "").strip():
            self.data = None
            return
        try:
            self.data = parse_int(valuelist[0], minimum=-INT_MAX, maximum=INT_MAX)
        except ValueError:
            self.data = None
            raise ValueError(_("Write a whole number with the digits 0–9.")) from None


def coerce_id(value) -> int | None:
    """``coerce`` for select and checkbox fields whose values are ids (``core.numbers``).

    Also called with the choices' own values, which are ints already; a value
    that is no id becomes None, which no choice matches ("not a valid choice").
    """
    return value if isinstance(value, int) else int_or_none(value)


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes, one per choice."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def within_planning_range(form, field):
    """A date within the years the service plans in (``core.dates``)."""
    if field.data is not None and not in_planning_range(field.data):
        raise ValidationError(_l("Choose a date within the next ten years."))


def flash_problems(form) -> None:
    """Each distinct message of a form that sits on another page, as a flash there (after the redirect)."""
    shown = []
    for errors in form.errors.values():
        for error in map(str, errors):
            if error not in shown:
                shown.append(error)
                flash(error, "error")
