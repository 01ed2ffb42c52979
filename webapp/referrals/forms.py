"""Forms for self-referral: the unit's setting, the resident's start, the clinician's answer."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, ValidationError

from webapp.core.forms import Form, MultiCheckboxField, WholeNumberField, coerce_id
from webapp.core.identity import IdentityError, normalise_personal_number
from webapp.referrals.services import MAX_CODES, MESSAGE_MAX


class OfferForm(Form):
    """Open (or close) one programme of a unit for self-referral, with its screening questionnaires."""

    unit_id = SelectField(_l("Care unit"), coerce=coerce_id, validate_choice=True,
                          validators=[DataRequired(_l("Choose a care unit."))])
    programme_id = SelectField(_l("Programme"), validators=[DataRequired(_l("Choose a programme."))])
    forms = MultiCheckboxField(_l("Screening questionnaires"), validators=[DataRequired(_l("Choose at least one questionnaire."))])
    is_open = BooleanField(_l("Residents may ask to start this programme"))


class StartForm(Form):
    """The resident's start: an e-mail address for the answer, when Lotsa has none yet."""

    email = EmailField(_l("Your e-mail address"), validators=[
        DataRequired(_l("Write your e-mail address.")), Length(max=254, message=_l("The e-mail address is too long.")),
        Email(_l("Write an e-mail address like namn@example.se."))], render_kw={"autocomplete": "email"})


class EmptyForm(Form):
    """A button that changes something: the CSRF token is all it carries."""


class AnswerForm(Form):
    """The clinician's answer to a request: accept with a welcome text, ask for a visit, or decline."""

    action = RadioField(_l("Your answer"), choices=[
        SelectChoice("accept", _l("Accept: open the programme")),
        SelectChoice("visit", _l("Ask for a visit first")),
        SelectChoice("decline", _l("Decline")),
    ], validators=[DataRequired(_l("Choose an answer."))])
    welcome_text = TextAreaField(_l("Welcome text (when you accept)"), validators=[
        Length(max=5000, message=_l("The text is too long."))], render_kw={"dir": "auto", "rows": 6})
    message = TextAreaField(_l("Message to the resident (a visit, or why not)"), validators=[
        Length(max=MESSAGE_MAX, message=_l("The text is too long."))], render_kw={"dir": "auto", "rows": 4})

    def validate_welcome_text(self, field):
        if self.action.data == "accept" and not (field.data or "").strip():
            raise ValidationError(_l("Write the welcome text the resident sees first."))

    def validate_message(self, field):
        if self.action.data in ("visit", "decline") and not (field.data or "").strip():
            raise ValidationError(_l("Write what the resident should know."))


class CodesForm(Form):
    """Single-use registration codes for one group of an open programme."""

    offer_id = SelectField(_l("Programme and care unit"), coerce=coerce_id, validate_choice=True,
                           validators=[DataRequired(_l("Choose a programme."))])
    label = StringField(_l("Group or batch"), validators=[
        DataRequired(_l("Name the group, for example the date of its first meeting.")),
        Length(max=100, message=_l("The text is too long."))])
    count = WholeNumberField(_l("Number of codes"), validators=[
        InputRequired(_l("Write how many codes you need.")),
        NumberRange(min=1, max=MAX_CODES, message=_l("Between 1 and %(max)d codes.", max=MAX_CODES))])


PNR_MESSAGES = {
    "format": _l("Write your personal identity number with 12 digits, for example 19121212-1212."),
    "date": _l("The date in the personal identity number does not exist."),
    "checksum": _l("The last digit does not match the others. Check the number."),
}


class RegisterForm(Form):
    """A resident's registration with a code from the care unit."""

    code = StringField(_l("Your code"), validators=[DataRequired(_l("Write the code you were given.")),
                                                    Length(max=40, message=_l("The code is too long."))],
                       render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"})
    full_name = StringField(_l("Your name"), validators=[DataRequired(_l("Write your name.")),
                                                         Length(max=200, message=_l("The name is too long."))],
                            render_kw={"autocomplete": "name"})
    personal_number = StringField(_l("Personal identity number"), validators=[
        DataRequired(_l("Write your personal identity number.")), Length(max=20, message=PNR_MESSAGES["format"])],
        render_kw={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"})
    email = EmailField(_l("Your e-mail address"), validators=[
        DataRequired(_l("Write your e-mail address.")), Length(max=254, message=_l("The e-mail address is too long.")),
        Email(_l("Write an e-mail address like namn@example.se."))], render_kw={"autocomplete": "email"})

    def validate_personal_number(self, field):
        try:
            field.data = normalise_personal_number(field.data or "")
        except IdentityError as exc:
            raise ValidationError(PNR_MESSAGES.get(exc.code, PNR_MESSAGES["format"])) from None
