"""Forms for opening access and changing an enrolment."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    FormField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms import Form as SubForm
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from webapp.core.forms import Form, MultiCheckboxField, WholeNumberField, coerce_id, within_planning_range
from webapp.core.identity import IdentityError, normalise_mobile, normalise_personal_number

PNR_MESSAGES = {
    "format": _l("Write the personal identity number with 12 digits, for example 19121212-1212."),
    "date": _l("The date in the personal identity number does not exist."),
    "checksum": _l("The last digit does not match the others. Check the number."),
}


def personal_number_field():
    return StringField(
        _l("Personal identity number"),
        validators=[DataRequired(_l("Write the patient's personal identity number.")), Length(max=20, message=PNR_MESSAGES["format"])],
        render_kw={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"},
    )


class PersonalNumberMixin:
    def validate_personal_number(self, field):
        try:
            field.normalised = normalise_personal_number(field.data)
        except IdentityError as exc:
            raise ValidationError(PNR_MESSAGES[exc.code]) from None


class OpenAccessStartForm(PersonalNumberMixin, Form):
    personal_number = personal_number_field()
    programme = SelectField(_l("Programme"), choices=[], validators=[DataRequired(_l("Choose a programme."))])


class OpenAccessForm(PersonalNumberMixin, Form):
    step = HiddenField(default="2")
    personal_number = personal_number_field()
    programme = HiddenField()
    # Only for a patient who has no account yet.
    full_name = StringField(_l("Name"), validators=[Optional(), Length(max=200, message=_l("The name is too long."))])
    email = EmailField(_l("E-mail address"), validators=[
        Optional(), Length(max=254, message=_l("The e-mail address is too long.")),
        Email(_l("Enter an e-mail address like name@example.se."), check_deliverability=False)])
    phone = StringField(_l("Mobile number (for SMS, optional)"), validators=[Optional(), Length(max=30)],
                        render_kw={"autocomplete": "off", "inputmode": "tel"})
    locale = SelectField(_l("The patient's language"), choices=[])
    responsible = SelectField(_l("Responsible clinician"), coerce=coerce_id, choices=[])
    recommended_days = WholeNumberField(_l("Recommended duration in days"), validators=[
        InputRequired(_l("Write a number of days.")),
        NumberRange(min=1, max=3650, message=_l("Choose between 1 and 3650 days."))])
    welcome_text = TextAreaField(_l("Welcome text"), validators=[Length(max=5000, message=_l("The welcome text can be at most 5000 characters."))])
    skipped = MultiCheckboxField(_l("Leave out these modules"), choices=[])

    def validate_phone(self, field):
        if field.data:
            try:
                field.data = normalise_mobile(field.data)
            except ValueError:
                raise ValidationError(_l("Write a Swedish mobile number, for example 070-123 45 67.")) from None


class CloseForm(Form):
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Write why access is closed.")), Length(max=500)])
    confirm = BooleanField(_l("Yes, close the patient's access"), validators=[DataRequired(_l("Tick the box to confirm."))])


class ExtendForm(Form):
    days = WholeNumberField(_l("Extend by (days)"), validators=[
        InputRequired(_l("Write a number of days.")), NumberRange(min=1, max=3650, message=_l("Choose between 1 and 3650 days."))])


class HandOverForm(Form):
    clinician = SelectField(_l("New responsible clinician"), coerce=coerce_id, choices=[])
    # Only asked when the new clinician works elsewhere and shares several units with this one.
    unit = SelectField(_l("Care unit that takes over"), coerce=coerce_id, choices=[], validate_choice=False,
                       validators=[Optional()])


class WelcomeForm(Form):
    welcome_text = TextAreaField(_l("Welcome text"), validators=[Length(max=5000, message=_l("The welcome text can be at most 5000 characters."))])


OPENING_CHOICES = [
    ("", _l("As the programme says")),
    ("by-date", _l("On their day (one a week, or the day you set)")),
    ("at-once", _l("All at once")),
    ("after-feedback", _l("Each one when you have given feedback on the one before")),
]


class ScheduleRowForm(SubForm):
    """One module's row of the schedule table (a sub-form: the whole table has one CSRF token)."""
    module_id = HiddenField()
    planned = SelectField(_l("In the plan"), choices=[SelectChoice("yes", _l("Included")),
                                                      SelectChoice("no", _l("Left out"))])
    opens_on = DateField(_l("Opens on"), validators=[Optional(), within_planning_range])
    open_now = BooleanField(_l("Open now"))


class ScheduleForm(Form):
    """The whole schedule in one form: how modules open, and per module plan, date and "open now"."""
    opening = SelectField(_l("How the modules open"), choices=[SelectChoice(k, label) for k, label in OPENING_CHOICES])
    rows = FieldList(FormField(ScheduleRowForm), min_entries=0, max_entries=100)


class FeedbackForm(Form):
    """Feedback on the patient's answers: a message, and the next module opened."""
    template = SelectField(_l("Message template"), choices=[], validate_choice=False)
    body = TextAreaField(_l("Your feedback to the patient"))
    open_next = BooleanField(_l("Open the next module when I send"))


class EndDateForm(Form):
    ends_on = DateField(_l("Close automatically on"), validators=[Optional(), within_planning_range])


class AcknowledgeAlertForm(Form):
    note = TextAreaField(_l("What did you do?"), validators=[
        DataRequired(_l("Write in a few words what you did, for example that you called the patient.")),
        Length(max=500, message=_l("The note can be at most 500 characters."))],
        render_kw={"rows": 3, "maxlength": 500})
