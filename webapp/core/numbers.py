"""Numbers from requests: the one place that turns text into whole numbers and ids.

``str.isdigit()`` accepts superscripts and other digits that ``int()`` then
refuses, ``int()`` itself accepts digits of every script, and a 40-digit
"id" overflows the database column. Everything a request carries as a number
(path ids, form and query fields) goes through here: ASCII digits only,
within the range the database stores, else a clear refusal.
"""

from __future__ import annotations

import re

from werkzeug.routing import IntegerConverter, ValidationError

# Ids and counts are INTEGER columns: 32 bits on PostgreSQL.
INT_MAX = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_int(text: str | None, minimum: int = 0, maximum: int = INT_MAX) -> int:
    """A whole number written in ASCII digits within [minimum, maximum]; ValueError otherwise."""
    value = (text or "").strip()
    negative = value.startswith("-") and minimum < 0
    digits = value[1:] if negative else value
    if not _DIGITS.fullmatch(digits):
        raise ValueError("not a whole number")
    number = -int(digits) if negative else int(digits)
    if not minimum <= number <= maximum:
        raise ValueError("out of range")
    return number


def int_or_none(text: str | None, minimum: int = 0, maximum: int = INT_MAX) -> int | None:
    """``parse_int`` for optional values: None when empty or not a number in range."""
    try:
        return parse_int(text, minimum, maximum)
    except ValueError:
        return None


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: ASCII digits within INT_MAX, else 404 (not a server error)."""

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=INT_MAX if max is None else max, signed=signed)

    def to_python(self, value: str) -> int:
        if len(value) > 10:
            raise ValidationError()
        return super().to_python(value)
