"""Forms of the notification settings: which notices to get, and confirming the mobile number."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField

from webapp.core.forms import Form, MultiCheckboxField
from webapp.core.identity import ascii_digits


def _digits(value):
    # People copy the code with spaces or a dash ("123 456"), or type it with Arabic-Indic
    # or Persian digits: the same digits, written 0-9, are what count.
    return "".join(ch for ch in ascii_digits(value) if ch in "0123456789") if isinstance(value, str) else value


class SettingsForm(Form):
    """The optional notices the patient wants, one checkbox per kind and channel (``new_message:sms``)."""

    choice = MultiCheckboxField(_l("Notifications"))

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.choice.choices = [(value, value) for value in choices]


class PhoneCodeForm(Form):
    """Asks for a code by SMS (nothing to fill in: the form carries the CSRF token)."""


class VerifyPhoneForm(Form):
    """The code from the SMS that confirms the mobile number."""

    code = StringField(_l("Code from the SMS"), filters=[_digits],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 10})
