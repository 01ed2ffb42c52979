"""The clinician's form for sending a page of patient information."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import InputRequired

from webapp.core.forms import Form


class ShareInformationForm(Form):
    # Choices ("programme/module") are set by the view from the public programmes.
    information = SelectField(_l("Information"), validators=[InputRequired(_l("Choose the information to send."))],
                              validate_choice=True)
