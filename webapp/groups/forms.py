"""Forms of the group pages: starting a group, adding its members, moving a session.

The messages are the ones these pages showed before they used Flask-WTF, so
their translations still apply.
"""

from __future__ import annotations

import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import DateField, EmailField, SelectField, StringField, TelField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, StopValidation

from webapp.core.forms import Form, WholeNumberField, coerce_id, within_planning_range
from webapp.core.i18n import LANGUAGE_NAMES
from webapp.core.identity import IdentityError, normalise_mobile, normalise_personal_number

# How many patients one "add members" form takes.
MEMBER_ROWS = 12
ROW_FIELDS = ("pnr", "name", "email", "phone", "responsible")

NAME = _l("Give the group a name (at most 200 characters).")
DATE = _l("Write the date as yyyy-mm-dd.")
TIME = _l("Write the time as hh:mm.")
WEEKS = _l("Choose between 1 and 16 weeks.")
TOO_LONG = _l("The text is too long.")
PNR_MESSAGES = {
    "format": _l("Write the personal identity number as YYYYMMDD-NNNN."),
    "date": _l("The personal identity number has a date that does not exist."),
    "checksum": _l("The personal identity number's last digit is wrong. Check for a typing error."),
}


def _strip(value):
    """Typed text without the spaces around it."""
    return value.strip() if isinstance(value, str) else value


def required(message):
    """Like InputRequired, but quiet when the field has already refused the text: one message, not two."""

    def check(form, field):
        if field.data is None and not field.process_errors:
            raise StopValidation(message)

    check.field_flags = {"required": True}
    return check


class NewGroupForm(Form):
    """A new group: name, care unit, programme and the rhythm of its sessions."""

    name = StringField(_l("Name of the group"), filters=[_strip],
                       validators=[DataRequired(NAME), Length(max=200, message=NAME)], render_kw={"maxlength": 200})
    unit_id = SelectField(_l("Care unit"), coerce=coerce_id,
                          invalid_choice_message=_l("Choose one of your care units."))
    programme_id = SelectField(_l("Programme"), invalid_choice_message=_l("Choose a programme."))
    first_day = DateField(_l("Date of the first session"), invalid_value_message=DATE,
                          validators=[required(DATE), within_planning_range])
    time = TimeField(_l("Time (Swedish time)"), format=["%H:%M", "%H:%M:%S"], default=datetime.time(13, 0),
                     invalid_value_message=TIME, validators=[required(TIME)])
    per_week = SelectField(_l("Sessions a week"), coerce=coerce_id, default=2,
                           invalid_choice_message=_l("Choose one or two sessions a week."))
    weeks = WholeNumberField(_l("Number of weeks"), default=8,
                             validators=[InputRequired(WEEKS), NumberRange(min=1, max=16, message=WEEKS)],
                             render_kw={"min": 1, "max": 16, "inputmode": "numeric"})

    def __init__(self, *args, units=(), programmes=(), locale="sv", **kwargs):
        super().__init__(*args, **kwargs)
        # Choices are set here, not on the class: they depend on the clinician and the catalogue.
        self.unit_id.choices = [(unit.id, unit.name) for unit in units]
        self.programme_id.choices = [(p.id, p.title(locale)) for p in programmes]
        self.per_week.choices = [(2, "2"), (1, "1")]


def _row_fields() -> dict:
    """The fields of every patient row, in page order: pnr_0, name_0, ..., responsible_0, pnr_1, ..."""
    fields = {}
    for n in range(MEMBER_ROWS):
        fields[f"pnr_{n}"] = StringField(_l("Personal identity number"), filters=[_strip],
                                         render_kw={"inputmode": "numeric", "autocomplete": "off"})
        fields[f"name_{n}"] = StringField(_l("Name (new patients)"), filters=[_strip],
                                          validators=[Length(max=200, message=TOO_LONG)], render_kw={"maxlength": 200})
        fields[f"email_{n}"] = EmailField(_l("E-mail address (new patients)"), filters=[_strip],
                                          validators=[Length(max=254, message=TOO_LONG)], render_kw={"maxlength": 254})
        fields[f"phone_{n}"] = TelField(_l("Mobile number (for SMS, optional)"), filters=[_strip])
        fields[f"responsible_{n}"] = SelectField(_l("Responsible clinician"), coerce=coerce_id)
    return fields


# The rows come first, so the error summary lists problems in the order of the page.
_MemberRows = type("_MemberRows", (Form,), _row_fields())


class AddMembersForm(_MemberRows):
    """Up to MEMBER_ROWS patients, a row each (``pnr_0``, ``name_0``, ...), added to a group in one step.

    Empty rows are left out. A filled-in row needs a valid personal identity
    number; whether a new patient also needs a name and an e-mail address is
    for ``services.add_members`` to say, since only it knows who is new.
    """

    welcome_text = TextAreaField(_l("Welcome text (each patient's own copy can be edited later)"),
                                 validators=[Length(max=5000,
                                                    message=_l("The welcome text can be at most 5000 characters."))],
                                 render_kw={"rows": 4})
    locale = SelectField(_l("Language for new patients"))

    def __init__(self, *args, clinicians=(), responsible: int | None = None, **kwargs):
        languages = current_app.config["LANGUAGES"]
        kwargs.setdefault("locale", current_app.config["BABEL_DEFAULT_LOCALE"])
        # The clinician adding the members is each row's responsible clinician unless a colleague is chosen.
        for n in range(MEMBER_ROWS):
            kwargs.setdefault(f"responsible_{n}", responsible)
        super().__init__(*args, **kwargs)
        for n in range(MEMBER_ROWS):
            self[f"responsible_{n}"].choices = [(c.id, c.full_name) for c in clinicians]
        self.locale.choices = [(code, LANGUAGE_NAMES.get(code, code), {"lang": code}) for code in languages]

    def rows(self) -> list[dict]:
        """Every row's fields by short name (``row["pnr"]``), for the template."""
        return [{key: self[f"{key}_{n}"] for key in ROW_FIELDS} for n in range(MEMBER_ROWS)]

    def filled_rows(self) -> list[tuple[int, dict]]:
        """The rows with anything typed in them (the responsible clinician always has a value)."""
        return [(n, row) for n, row in enumerate(self.rows())
                if any((row[key].data or "").strip() for key in ("pnr", "name", "email", "phone"))]

    def validate(self, extra_validators=None):
        """The fields, then each filled-in row; at least one row must be filled in."""
        valid = super().validate(extra_validators)
        filled = self.filled_rows()
        if not filled:
            self.pnr_0.errors.append(_l("Fill in at least one patient."))
            return False
        for _n, row in filled:
            try:
                row["pnr"].normalised = normalise_personal_number(row["pnr"].data or "")
            except IdentityError as exc:
                row["pnr"].errors.append(PNR_MESSAGES[exc.code])
                valid = False
            row["phone"].normalised = ""
            if row["phone"].data:
                try:
                    row["phone"].normalised = normalise_mobile(row["phone"].data)
                except ValueError:
                    row["phone"].errors.append(_l("Write a Swedish mobile number, e.g. 070-123 45 67."))
                    valid = False
        return valid

    def member_rows(self) -> list[dict]:
        """The filled-in rows as ``services.add_members`` takes them (after a successful validate)."""
        return [{"n": n, "pnr": row["pnr"].normalised, "name": row["name"].data or "",
                 "email": row["email"].data or "", "phone": row["phone"].normalised,
                 "responsible": row["responsible"].data} for n, row in self.filled_rows()]

    def add_problems(self, problems: dict[str, str], messages: dict) -> None:
        """Show the service's problems (field name -> code) at their fields."""
        for name, code in problems.items():
            self[name].errors.append(messages[code])


class SessionForm(Form):
    """One session's date, time, topic and the module that opens with it."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            # Every session's form is on the same page: the names stay, the ids get the session's id.
            if form.session_id is not None:
                options["id"] = f"{options['name']}-{form.session_id}"
            return super().bind_field(form, unbound_field, options)

    day = DateField(_l("Date"), invalid_value_message=DATE, validators=[required(DATE), within_planning_range])
    time = TimeField(_l("Time (Swedish time)"), format=["%H:%M", "%H:%M:%S"], invalid_value_message=TIME,
                     validators=[required(TIME)])
    topic = StringField(_l("Topic"), filters=[_strip],
                        validators=[Length(max=200, message=_l("The topic is too long (at most 200 characters)."))],
                        render_kw={"maxlength": 200})
    module_id = SelectField(_l("Module that opens"), default="",
                            invalid_choice_message=_l("Choose a module of the group's programme."))

    def __init__(self, *args, session_id: int | None = None, modules=(), **kwargs):
        self.session_id = session_id
        super().__init__(*args, **kwargs)
        self.module_id.choices = [("", _l("None")), *modules]


class RemoveMemberForm(Form):
    """Takes a member out of the group (nothing to fill in: the form carries the CSRF token)."""
