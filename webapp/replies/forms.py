"""The reply editor: who it goes to, the four sections the clinician reviews."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from webapp.core.forms import Form
from webapp.replies.services import MAX_RECIPIENT, MAX_TEXT

TOO_LONG = _l("The text is too long. Shorten it to at most 10,000 characters.")


def _section(label, description, required: bool = False):
    validators = [Length(max=MAX_TEXT, message=TOO_LONG)]
    if required:
        validators.insert(0, InputRequired(_l("Write your recommendations before you save the reply.")))
    return TextAreaField(label, description=description, validators=validators, render_kw={"rows": 8})


class ReplyForm(Form):
    recipient = StringField(_l("To (the referring unit and clinician)"), validators=[
        Length(max=MAX_RECIPIENT, message=_l("Keep the recipient under 300 characters."))])
    done = _section(_l("What the patient did"), _l("Filled in from the modules; edit as you like."))
    questionnaires = _section(_l("Questionnaires, before and after"),
                              _l("Filled in from the scores; edit as you like."))
    plan = _section(_l("Care plan and follow-up contacts"), _l("Filled in from the plan and the contacts."))
    recommendations = _section(_l("Recommendations"), _l("Your recommendations to the referring unit."),
                               required=True)
