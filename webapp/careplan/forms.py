"""Forms for care plans and follow-up contacts: the plan editor, planning a contact,
recording how it went (with its rating), and the patient's agreement.

The input names are the ones the pages and tests have always posted
(``goal_matters_0``, ``act_who_3``, ``rating``...), so the editor's rows are
declared in a loop rather than as a FieldList (which would rename them).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import DateField, HiddenField, RadioField, SelectChoice, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import HiddenInput

from webapp.careplan.services import ACTIVITY_ROWS, CONTACT_KINDS, GOAL_ROWS, MAX_TEXT, MAX_WHEN, RESPONSIBLE
from webapp.core.forms import Form, WholeNumberField, within_planning_range

RESPONSIBLE_LABELS = {
    "patient": _l("The patient"), "physiotherapist": _l("Physiotherapist"), "psychologist": _l("Psychologist"),
    "occupational_therapist": _l("Occupational therapist"), "doctor": _l("Doctor"), "nurse": _l("Nurse"),
    "care_manager": _l("Care manager"), "other": _l("Someone else in the team"),
}
CONTACT_LABELS = {"phone": _l("Phone call"), "video": _l("Video call"), "visit": _l("Visit")}

TOO_LONG = _l("The text is too long.")
WHO = _l("Choose who is responsible.")
DATE = _l("Write the date as yyyy-mm-dd.")
# The service's problem codes (see services.share), as messages on the field they name.
PLAN_PROBLEMS = {"goal_needed": _l("Write at least one goal before sharing the plan.")}
CONTACT_WHEN = _l("Choose a date (and a time) for the contact.")
CONTACT_HOW = _l("Choose how the contact is made, and keep the purpose short.")
# The outcome form sits on list pages and answers with one message for all its fields.
OUTCOME_PROBLEM = _l("Say whether the contact took place, keep the note under 2,000 characters and give the rating "
                     "as a whole number from 0 to 10.")
NOTE_MAX = 2000


def strip(value):
    """Leading and trailing spaces are not part of what was written."""
    return value.strip() if isinstance(value, str) else value


class PlanForm(Form):
    """The care plan editor: goals in the patient's words, activities, a follow-up day; draft or share.

    The goal and activity rows are added below the class, in page order (the
    error summary follows the fields' order).
    """

    # Which button was pressed: "share", or anything else for a draft. Not rendered: the buttons carry it.
    action = HiddenField()

    @property
    def wants_share(self) -> bool:
        return self.action.data == "share"

    @classmethod
    def from_content(cls, content: dict) -> PlanForm:
        """The editor filled in with a plan, as if typed: a draft may hold a date that did not validate."""
        values = MultiDict({"review_on": content.get("review_on", "")})
        for n, goal in enumerate(content.get("goals", [])[:GOAL_ROWS]):
            values[f"goal_matters_{n}"], values[f"goal_able_{n}"] = goal["matters"], goal["able_to"]
        for n, act in enumerate(content.get("activities", [])[:ACTIVITY_ROWS]):
            values.update({f"act_what_{n}": act["what"], f"act_who_{n}": act["who"], f"act_when_{n}": act["when"]})
        return cls(formdata=values)

    def goal_rows(self) -> list[tuple[str, str]]:
        """Each goal row as (what matters, what I want to be able to do), empty ones included."""
        return [(self[f"goal_matters_{n}"].data or "", self[f"goal_able_{n}"].data or "") for n in range(GOAL_ROWS)]

    def activity_rows(self) -> list[tuple[str, str, str]]:
        """Each activity row as (what, who, when), empty ones included."""
        return [(self[f"act_what_{n}"].data or "", self[f"act_who_{n}"].data or "", self[f"act_when_{n}"].data or "")
                for n in range(ACTIVITY_ROWS)]

    def review_text(self) -> str:
        """The follow-up day as yyyy-mm-dd, or as typed when it is not a date (a draft keeps it)."""
        if self.review_on.data is not None:
            return self.review_on.data.isoformat()
        return strip(self.review_on.raw_data[0]) if self.review_on.raw_data else ""

    def add_problems(self, problems: dict[str, str]) -> None:
        """Problems the service found ({field name: code}) shown on their fields."""
        for name, code in problems.items():
            self[name].errors.append(PLAN_PROBLEMS[code])


def _who_needed(n: int):
    """An activity that is written needs someone responsible (an empty row needs nothing)."""
    def check(form, field):
        if form[f"act_what_{n}"].data and field.data not in RESPONSIBLE:
            raise ValidationError(WHO)
    return check


for _n in range(GOAL_ROWS):
    setattr(PlanForm, f"goal_matters_{_n}", TextAreaField(
        _l("What matters to me"), filters=[strip], validators=[Length(max=MAX_TEXT, message=TOO_LONG)],
        render_kw={"rows": 2, "maxlength": MAX_TEXT}))
    setattr(PlanForm, f"goal_able_{_n}", TextAreaField(
        _l("What I want to be able to do"), filters=[strip], validators=[Length(max=MAX_TEXT, message=TOO_LONG)],
        render_kw={"rows": 2, "maxlength": MAX_TEXT}))
for _n in range(ACTIVITY_ROWS):
    setattr(PlanForm, f"act_what_{_n}", StringField(
        _l("What"), filters=[strip], validators=[Length(max=MAX_TEXT, message=TOO_LONG)],
        render_kw={"maxlength": MAX_TEXT}))
    # Checked only for a written activity (_who_needed), so not by the select itself.
    setattr(PlanForm, f"act_who_{_n}", SelectField(
        _l("Who is responsible"), choices=[SelectChoice(k, RESPONSIBLE_LABELS[k]) for k in RESPONSIBLE],
        validate_choice=False, filters=[strip], validators=[_who_needed(_n)]))
    setattr(PlanForm, f"act_when_{_n}", StringField(
        _l("When or how often"), filters=[strip], validators=[Length(max=MAX_WHEN, message=TOO_LONG)],
        render_kw={"maxlength": MAX_WHEN}))
PlanForm.review_on = DateField(_l("Follow the plan up on (optional)"), invalid_value_message=DATE,
                               validators=[Optional(), within_planning_range])


class ContactForm(Form):
    """Plan a follow-up contact: how, which Swedish day and time (09:00 unless told), and why."""

    kind = SelectField(_l("How"), choices=[SelectChoice(k, CONTACT_LABELS[k]) for k in CONTACT_KINDS],
                       invalid_choice_message=CONTACT_HOW)
    day = DateField(_l("Date"), invalid_value_message=CONTACT_WHEN,
                    validators=[InputRequired(CONTACT_WHEN), within_planning_range])
    time = TimeField(_l("Time (Swedish time)"), invalid_value_message=CONTACT_WHEN, validators=[Optional()])
    purpose = StringField(_l("Purpose"), filters=[strip], validators=[Length(max=MAX_TEXT, message=CONTACT_HOW)],
                          render_kw={"maxlength": MAX_TEXT})


class OutcomeForm(Form):
    """How a contact went: kept or missed, a short note, and optionally the patient's 0–10 rating."""

    # Where to go back to: "worklist", or the enrolment page.
    back = HiddenField()
    outcome = RadioField(_l("Did the contact take place?"),
                         choices=[SelectChoice("kept", _l("Yes")), SelectChoice("missed", _l("No, it was missed"))],
                         invalid_choice_message=OUTCOME_PROBLEM)
    note = TextAreaField(_l("Short note"), filters=[strip], validators=[Length(max=NOTE_MAX, message=OUTCOME_PROBLEM)],
                         render_kw={"rows": 2, "maxlength": NOTE_MAX})
    rating = WholeNumberField(_l("How well can you manage your pain? 0–10 (optional)"),
                              validators=[Optional(), NumberRange(min=0, max=10, message=OUTCOME_PROBLEM)],
                              render_kw={"min": 0, "max": 10, "inputmode": "numeric"})

    @classmethod
    def for_contact(cls, contact_id: int, back: str, formdata=None) -> OutcomeForm:
        """A form for one contact of a list (empty, or ``formdata`` given back): ids carry the contact's id."""
        form = cls(formdata=formdata, back=back, outcome="kept")
        for field in form:
            field.id = f"{field.name}-{contact_id}"
            if field.label.field_id:  # a radio group's label is a legend, for no single input
                field.label.field_id = field.id
        return form


class AgreeForm(Form):
    """The patient agrees to the version of the plan they read."""

    version = WholeNumberField(widget=HiddenInput())
