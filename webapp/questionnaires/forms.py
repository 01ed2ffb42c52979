"""Forms for questionnaires: the clinician sends one to a patient or to a list of
patients, and the patient answers one.

The answer form depends on the questionnaire: :func:`answer_form` builds a form
class per definition, one field per item, named by the item's id (the names
the page has always posted). Empty answers are allowed while saving; sending
requires every required item.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, RadioField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import Length, Optional, StopValidation, ValidationError

from webapp.content.questionnaires import Item, Questionnaire
from webapp.core.dates import local_today
from webapp.core.forms import Form, MultiCheckboxField, WholeNumberField, coerce_id, within_planning_range
from webapp.core.numbers import INT_MAX, parse_int
from webapp.questionnaires.scoring import item_value

DATE = _l("Write the date as yyyy-mm-dd.")
REQUIRED = _l("Please answer this question.")
INVALID = _l("Choose one of the answers.")
TOO_LONG = _l("The answer is too long (at most 2000 characters).")
TEXT_MAX = 2000


def _id(value) -> int:
    """An id in ASCII digits (``core.numbers``); a choice's own value is an int already."""
    return value if isinstance(value, int) else parse_int(value, minimum=1)


def _send_on():
    """The send day (a function, so each form gets the field in its own place)."""
    return DateField(_l("Send on (empty: now)"), invalid_value_message=DATE, validators=[Optional()])


def _due_on():
    """The last day to answer."""
    return DateField(_l("Answer by (optional)"), invalid_value_message=DATE, validators=[Optional()])


class SendForm(Form):
    """Send a questionnaire now or on a later day, with an optional last day to answer."""

    form_id = SelectField(_l("Questionnaire"), choices=[],
                          invalid_choice_message=_l("Choose a questionnaire that can be sent."))
    send_on = _send_on()
    due_on = _due_on()

    def validate_send_on(self, field):
        if field.data is None:
            return
        if field.data < local_today():
            raise ValidationError(_l("Choose today or a later day."))
        within_planning_range(self, field)

    def validate_due_on(self, field):
        if field.data is None:
            return
        # Compared with the send day only when that day is a good one.
        sent = self.send_on.data if self.send_on.data is not None and not self.send_on.errors else None
        if field.data < max(local_today(), sent or local_today()):
            raise ValidationError(_l("The last day to answer must be on or after the day it is sent."))
        within_planning_range(self, field)


class RoundForm(SendForm):
    """Send a questionnaire to everyone active in a programme, or to chosen patients, of one care unit."""

    unit_id = SelectField(_l("Care unit"), coerce=_id, choices=[],
                          invalid_value_message=_l("Choose one of your care units."),
                          invalid_choice_message=_l("Choose one of your care units."))
    to = RadioField(_l("Send to"), invalid_choice_message=_l("Choose who gets the questionnaire."), choices=[
        SelectChoice("programme", _l("Everyone active in a programme in the care unit")),
        SelectChoice("chosen", _l("The patients I choose below"))])
    # The two lists below matter only for their own choice of "to", so they are checked in
    # validate_* methods rather than by the fields themselves.
    programme_id = SelectField(_l("Programme"), choices=[], validate_choice=False)
    enrolment_id = MultiCheckboxField(_l("Chosen patients (your own active patients)"), coerce=coerce_id,
                                      choices=[], validate_choice=False)

    # Made again so the days come last, as on the page (the error summary follows the fields' order).
    send_on = _send_on()
    due_on = _due_on()

    @property
    def chosen_ids(self) -> list[int]:
        """The chosen enrolments' ids, each once, without values that are not ids."""
        return list(dict.fromkeys(i for i in self.enrolment_id.data or [] if i is not None))

    def validate_programme_id(self, field):
        if self.to.data == "programme" and field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_l("Choose a programme."))

    def validate_enrolment_id(self, field):
        if self.to.data == "chosen" and not self.chosen_ids:
            raise ValidationError(_l("Choose at least one patient."))

    def recipients_asked(self) -> dict | None:
        """Who the sender asked for, once the unit and the list are valid: the service's keyword arguments."""
        if not self.is_submitted() or self.unit_id.errors or self.to.errors or self.unit_id.data is None:
            return None
        if self.to.data == "programme" and not self.programme_id.errors:
            return {"programme_id": self.programme_id.data}
        if self.to.data == "chosen" and not self.enrolment_id.errors:
            return {"enrolment_ids": self.chosen_ids}
        return None


# --- answering ------------------------------------------------------------------------------


class AnswerForm(Form):
    """The fields every answer form has; :func:`answer_form` adds one per item."""

    # "submit" sends the answers; anything else saves them for later. Not rendered: the buttons carry it.
    action = HiddenField()
    items: tuple[Item, ...] = ()

    @property
    def is_final(self) -> bool:
        return self.action.data == "submit"

    def answers(self) -> dict:
        """The answers that fit their item ({item id: number or text}); empty and refused ones are left out."""
        answers = {}
        for item in self.items:
            field = self[item.id]
            if field.errors or field.data is None or field.data == "":
                continue
            answers[item.id] = field.data
        return answers


class ChoiceAnswerField(RadioField):
    """One of an item's answers as radio buttons; the value is a whole number in ASCII digits."""

    def pre_validate(self, form):
        # No answer is not a wrong answer: whether one is needed is the item's rule (_ItemRule).
        if self.data is not None:
            super().pre_validate(form)


class NumberAnswerField(WholeNumberField):
    """A number typed for a VAS or number item; a refusal says what a wrong choice says."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(INVALID) from None


def _answer_value(value) -> int | None:
    """A radio button's value (or a draft's) as a whole number; None for none."""
    if value is None or isinstance(value, int):
        return value
    text = str(value)
    return parse_int(text, minimum=-INT_MAX) if text.strip() else None


class _ItemRule:
    """An item's rules: required when the answers are sent, and a scored answer within the item's values."""

    def __init__(self, item: Item):
        self.item = item

    def __call__(self, form, field):
        if field.data is None or field.data == "":
            if form.is_final and self.item.required and not field.errors:
                raise StopValidation(REQUIRED)
            raise StopValidation()
        if self.item.type != "text" and not field.errors and item_value(self.item, field.data) is None:
            raise ValidationError(INVALID)


def _strip(value):
    """Spaces around a text answer are not part of it."""
    return value.strip() if isinstance(value, str) else value


def _item_field(item: Item, lang: str):
    """The field for one item: radio buttons for a choice or scale, a number for a VAS or number, else a text.

    Labels are ``Text`` values: they know their language, so the page can mark them.
    """
    label = item.text(lang)
    rule = _ItemRule(item)
    if item.type in ("single_choice", "scale"):
        values = [o.value for o in item.options] or list(range(item.low, item.high + 1))
        labels = {o.value: o.label(lang) for o in item.options}
        return ChoiceAnswerField(label, choices=[SelectChoice(v, labels.get(v, str(v))) for v in values],
                                 coerce=_answer_value, invalid_value_message=INVALID, invalid_choice_message=INVALID,
                                 validators=[rule])
    if item.type in ("vas", "number"):
        return NumberAnswerField(label, validators=[rule])
    return TextAreaField(label, filters=[_strip], validators=[rule, Length(max=TEXT_MAX, message=TOO_LONG)])


# Names an item cannot have: the form's own attributes and fields.
RESERVED = {name for name in dir(AnswerForm) if not name.startswith("_")} | {"csrf_token"}


def answer_form(definition: Questionnaire, lang: str) -> type[AnswerForm]:
    """A form class for one questionnaire: a field per answerable item, named by its id, labelled in the
    version ``lang`` (``Questionnaire.language_for``: the reader's, or the default one)."""
    fields: dict = {"items": tuple(item for item in definition.items if item.type != "info")}
    for item in fields["items"]:
        if item.id in RESERVED:
            raise ValueError(f"questionnaire {definition.id!r}: an item cannot be called {item.id!r}")
        fields[item.id] = _item_field(item, lang)
    return type("AnswerForm", (AnswerForm,), fields)
