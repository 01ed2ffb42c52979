"""Forms for logging in, two-factor codes, passwords and language choice."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp, ValidationError

from webapp.core.forms import Form

EMAIL_MAX = 254
PASSWORD_MAX = 256  # argon2 cost grows with length: refuse absurd inputs early


def email_field(autocomplete: str) -> EmailField:
    """The login-name field: required, at most 254 characters, shaped like an address."""
    return EmailField(
        _l("E-mail address"),
        validators=[
            DataRequired(_l("Enter your e-mail address.")),
            Length(max=EMAIL_MAX, message=_l("The e-mail address is too long.")),
            Email(_l("Enter an e-mail address like name@example.se."), check_deliverability=False),
        ],
        render_kw={"autocomplete": autocomplete},
    )


class LoginForm(Form):
    email = email_field("username")
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(_l("Enter your password.")),
            Length(max=PASSWORD_MAX, message=_l("The password is too long.")),
        ],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class OtpForm(Form):
    code = StringField(
        _l("Six-digit code"),
        validators=[
            DataRequired(_l("Enter the six-digit code from your authenticator app.")),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("The code is six digits, for example 123456.")),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class NewPasswordForm(Form):
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("Choose a password.")),
            Length(max=PASSWORD_MAX, message=_l("The password is too long.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(_l("Repeat the password.")),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_password(self, field):
        minimum = current_app.config["PASSWORD_MIN_LENGTH"]
        if len(field.data or "") < minimum:
            raise ValidationError(_l("Use at least %(n)s characters.", n=minimum))


class ResetRequestForm(Form):
    email = email_field("email")


class LocaleForm(Form):
    locale = SelectField(_l("Language"), choices=[])
    next = HiddenField()


class EmptyForm(Form):
    """A form with only the CSRF token (buttons that change state)."""


class ReauthForm(Form):
    """Prove it is still you: the password, and for staff the code from the app."""

    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(_l("Enter your password.")),
            Length(max=PASSWORD_MAX, message=_l("The password is too long.")),
        ],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        _l("Six-digit code"),
        validators=[Regexp(r"^\s*(\d{3}\s?\d{3})?\s*$", message=_l("The code is six digits, for example 123456."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    next = HiddenField()
