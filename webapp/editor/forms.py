"""Forms for editing content in the browser: a module file, a new module, a review."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Regexp

from webapp.core.forms import Form
from webapp.editor.services import MAX_TEXT


def strip(value):
    return value.strip() if isinstance(value, str) else value


class EditForm(Form):
    """One module file in one language: check it (preview and problems) or save it as a draft."""

    # Which button was pressed: "save" keeps a draft, anything else only checks.
    action = HiddenField()
    text = TextAreaField(_l("Markdown"), validators=[InputRequired(_l("Write the module's text.")),
                                                     Length(max=MAX_TEXT, message=_l("The text is too long."))])
    message = StringField(_l("What did you change, and why?"), filters=[strip],
                          validators=[Length(max=500, message=_l("Keep the description under 500 characters."))])

    @property
    def wants_save(self) -> bool:
        return self.action.data == "save"


class NewModuleForm(Form):
    """A new module from the template, in the programme's default language."""

    module_id = StringField(_l("Module id (used in the address)"), filters=[strip], validators=[
        InputRequired(_l("Give the module an id.")),
        Regexp(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$",
               message=_l("Use 3–64 lower-case letters a–z, digits and hyphens, e.g. sleep-and-rest."))])
    title = StringField(_l("Title"), filters=[strip], validators=[
        InputRequired(_l("Give the module a title.")), Length(max=120, message=_l("Keep the title under 120 characters."))])


class ReviewForm(Form):
    """Approve, withdraw or revert: nothing to fill in but the CSRF token."""


class MediaForm(Form):
    """One media file: which media item it belongs to and its name there."""

    media_id = StringField(_l("Media id (the folder under media/)"), filters=[strip], validators=[
        InputRequired(_l("Give the media item an id.")),
        Regexp(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$",
               message=_l("Use 3–64 lower-case letters a–z, digits and hyphens, e.g. breathing-exercise."))])
    name = StringField(_l("File name in the media folder"), filters=[strip], validators=[
        InputRequired(_l("Give the file a name, e.g. sv.mp3.")),
        Regexp(r"^(?:[a-z]{2,3}|all|poster)\.(?:mp3|ogg|m4a|mp4|webm|vtt|png|jpe?g|webp)$",
               message=_l("Name it after its language and kind, e.g. sv.mp3, sv.vtt, en.mp4 or poster.png."))])
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file to upload."))])
