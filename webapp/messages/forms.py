"""The message form (patient and care team alike)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField


class MessageForm(FlaskForm):
    # Length and emptiness are the service's rules (post_as_*), with their own messages.
    body = TextAreaField(_l("New message"))
