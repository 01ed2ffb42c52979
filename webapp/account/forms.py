"""Forms of the patient's contact details and the first-login introduction."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from webapp.auth.forms import email_field
from webapp.core.forms import Form
from webapp.core.identity import normalise_mobile
from webapp.notifications.forms import VerifyPhoneForm

__all__ = ["EmailForm", "PhoneForm", "VerifyPhoneForm", "NextForm"]


class EmailForm(Form):
    """A new e-mail address; a link sent there confirms it."""

    email = email_field("email")
    next = HiddenField()


class PhoneForm(Form):
    """A mobile number to add or change (or confirm); a code texted there confirms it."""

    phone = StringField(_l("Mobile number"), validators=[DataRequired(_l("Write your mobile number.")),
                                                         Length(max=30, message=_l("The number is too long."))],
                        render_kw={"autocomplete": "tel", "inputmode": "tel", "type": "tel", "dir": "ltr"})
    next = HiddenField()

    def validate_phone(self, field):
        try:
            field.data = normalise_mobile(field.data)
        except ValueError:
            raise ValidationError(_l("Write a Swedish mobile number, for example 070-123 45 67.")) from None


class NextForm(Form):
    """Only the CSRF token and where to go afterwards (buttons that change state)."""

    next = HiddenField()
