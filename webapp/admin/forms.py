"""Administrators' forms: care units and staff accounts."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from webapp.auth.forms import email_field
from webapp.core.forms import Form, MultiCheckboxField, coerce_id

STAFF_ROLES = [("clinician", _l("Clinician")), ("editor", _l("Content editor")), ("admin", _l("Administrator"))]


def _name_field(label):
    return StringField(label, validators=[DataRequired(_l("Write a name.")),
                                          Length(max=200, message=_l("The name can be at most 200 characters."))])


class UnitForm(Form):
    """A new care unit: its name, and the short code the command line and URLs know it by."""
    name = _name_field(_l("Name of the care unit"))
    code = StringField(_l("Code"), validators=[
        DataRequired(_l("Write a code, e.g. vc-norra.")),
        Regexp(r"^[a-z0-9][a-z0-9-]{1,62}$",
               message=_l("A code is 2 to 63 lower-case letters a–z, digits and hyphens, e.g. vc-norra."))],
        render_kw={"autocomplete": "off", "spellcheck": "false"})


class RenameUnitForm(Form):
    name = _name_field(_l("Name of the care unit"))


class InviteForm(Form):
    """A new staff account: the invitation link goes to the e-mail address."""
    full_name = _name_field(_l("Name"))
    email = email_field("off")
    role = SelectField(_l("Role"), choices=[SelectChoice(v, label) for v, label in STAFF_ROLES])
    units = MultiCheckboxField(_l("Care units"), coerce=coerce_id, choices=[])
    locale = SelectField(_l("Language"), choices=[])


class RoleForm(Form):
    role = SelectField(_l("Role"), choices=[SelectChoice(v, label) for v, label in STAFF_ROLES])


class AddUnitForm(Form):
    unit = SelectField(_l("Care unit"), coerce=coerce_id, choices=[])


class HsaIdForm(Form):
    # The format is the service's rule (set_hsa_id), with its own message; empty removes it.
    hsa_id = StringField(_l("HSA-id"), validators=[Optional(), Length(max=64, message=_l("An HSA-id is at most 64 characters."))],
                         render_kw={"autocomplete": "off", "spellcheck": "false", "dir": "ltr"})
