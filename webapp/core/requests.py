"""The request class: form and query values arrive without NUL characters.

Nobody types a NUL, PostgreSQL text columns cannot store one (SQLite can, so it
would only fail in production), and a search containing one cannot match
anything. Dropping it where the values are parsed keeps every view safe.
"""

from __future__ import annotations

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict


def _strip_nul(value):
    return value.replace("\x00", "") if isinstance(value, str) else value


class CleanParameters(ImmutableMultiDict):
    """Query and form parameters with NUL characters removed from keys and values."""

    def __init__(self, mapping=None):
        if mapping is None:
            super().__init__()
            return
        if isinstance(mapping, MultiDict):
            pairs = mapping.items(multi=True)
        elif isinstance(mapping, dict):
            pairs = mapping.items()
        else:
            pairs = mapping
        super().__init__([(_strip_nul(key), _strip_nul(value)) for key, value in pairs])


class LotsaRequest(Request):
    parameter_storage_class = CleanParameters
