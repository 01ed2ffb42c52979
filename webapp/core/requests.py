"""The request class: form and query values arrive without NUL characters or
bidirectional embedding and override controls.

Nobody types a NUL, PostgreSQL text columns cannot store one (SQLite can, so it
would only fail in production), and a search containing one cannot match
anything. A right-to-left override in a name would reorder everything after it
on the clinician's caseload; Arabic and Persian text needs none of the
embedding, override or isolate controls (the marks LRM/RLM/ALM and the
zero-width joiners it does need are kept). Dropping both where the values are
parsed keeps every view safe; output isolates user text with ``<bdi>`` as well.
"""

from __future__ import annotations

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

# NUL, LRE RLE PDF LRO RLO, LRI RLI FSI PDI.
UNWANTED = dict.fromkeys([0x00, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def strip_controls(value):
    """``value`` without NUL and bidi embedding/override/isolate controls (non-strings unchanged)."""
    return value.translate(UNWANTED) if isinstance(value, str) else value



class CleanParameters(ImmutableMultiDict):
    """Query and form parameters without NUL and bidi embedding controls in keys and values."""

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
        super().__init__([(strip_controls(key), strip_controls(value)) for key, value in pairs])


class LotsaRequest(Request):
    parameter_storage_class = CleanParameters
