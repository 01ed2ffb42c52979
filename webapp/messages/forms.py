"""The message form (patient and care team alike)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from webapp.core.forms import Form, coerce_id


class MessageForm(Form):
    # Length and emptiness are the service's rules (post_as_*), with their own messages.
    body = TextAreaField(_l("New message"))


class StaffMessageForm(MessageForm):
    """The care team's message form: a template can be inserted (a submit button, no JavaScript)."""
    template = SelectField(_l("Message template"), choices=[], validate_choice=False)


KIND_LABELS = {
    "welcome": _l("Welcome"),
    "feedback": _l("Weekly feedback"),
    "reminder": _l("Reminder to continue"),
    "closing": _l("Closing"),
    "other": _l("Other"),
}


class TemplateForm(Form):
    """A message template: its name, kind, language and text, shared with the unit or personal."""
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the template a name.")),
                                               Length(max=100, message=_l("The name can be at most 100 characters."))])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, label) for k, label in KIND_LABELS.items()])
    locale = SelectField(_l("Language"), choices=[])
    unit = SelectField(_l("Care unit"), coerce=coerce_id, choices=[])
    personal = BooleanField(_l("Only for me (a personal template)"))
    # Length and emptiness: the service's rules (clean_body).
    body = TextAreaField(_l("Text"))
