"""Swedish personal identity numbers and mobile numbers: validate and normalise.

A personal identity number (personnummer) is stored as 12 digits, YYYYMMDDNNNC:
birth date, a three-digit birth number and a Luhn check digit over the last
ten digits. Coordination numbers (samordningsnummer) add 60 to the day.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import phonenumbers

from webapp.core.dates import local_today

PNR_RE = re.compile(r"^([0-9]{2})?([0-9]{2})([0-9]{2})([0-9]{2})([-+]?)([0-9]{3})([0-9])$")
# Dashes people type (or phones insert) between the date and the birth number.
DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d"), "-")


def ascii_digits(text: str) -> str:
    """``text`` with full-width forms folded (NFKC) and every decimal digit of any script as 0-9.

    A number typed with Arabic-Indic, Persian or full-width digits is the same
    number: it must match the person, not create a second one.
    """
    folded = unicodedata.normalize("NFKC", text).translate(DASHES)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in folded)


class IdentityError(ValueError):
    """``code`` is one of: format, date, checksum."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def luhn_check_digit(nine_digits: str) -> int:
    total = 0
    for index, char in enumerate(nine_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def normalise_personal_number(raw: str, today: date | None = None) -> str:
    """Return the 12-digit form, or raise IdentityError saying what is wrong."""
    today = today or local_today()
    text = "".join(ascii_digits(raw or "").split())
    match = PNR_RE.match(text)
    if not match:
        raise IdentityError("format")
    century, yy, mm, dd, sign, birth, check = match.groups()
    if century is None:
        # Ten digits: the person is under 100 unless written with '+'.
        year = today.year - (100 if sign == "+" else 0)
        candidate = int(f"{str(year)[:2]}{yy}")
        if candidate > year:
            candidate -= 100
        full_year = candidate
    else:
        full_year = int(century + yy)
    day = int(dd) - 60 if int(dd) > 60 else int(dd)  # coordination numbers
    try:
        born = date(full_year, int(mm), day)
    except ValueError:
        raise IdentityError("date") from None
    if born > today:
        raise IdentityError("date")
    if luhn_check_digit(f"{yy}{mm}{dd}{birth}") != int(check):
        raise IdentityError("checksum")
    return f"{full_year:04d}{mm}{dd}{birth}{check}"


def format_personal_number(twelve: str | None) -> str:
    """19121212-1212 style for display."""
    if not twelve or len(twelve) != 12:
        return twelve or ""
    return f"{twelve[:8]}-{twelve[8:]}"


def normalise_mobile(raw: str, region: str = "SE") -> str:
    """E.164 form (+46701234567) of a mobile number; ValueError if it is not one."""
    try:
        number = phonenumbers.parse(ascii_digits(raw or ""), region)
    except phonenumbers.NumberParseException:
        raise ValueError("format") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("format")
    if phonenumbers.number_type(number) not in (phonenumbers.PhoneNumberType.MOBILE,
                                                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise ValueError("not_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# The Swedish OIDs for a person's identity number in health-care records (used as
# the identifier system in FHIR): personnummer and samordningsnummer.
PERSONAL_NUMBER_OID = "urn:oid:1.2.752.129.2.1.3.1"
COORDINATION_NUMBER_OID = "urn:oid:1.2.752.129.2.1.3.3"


def is_coordination_number(twelve: str) -> bool:
    """A samordningsnummer: the day of birth has 60 added (a 12-digit number as stored)."""
    return len(twelve) == 12 and int(twelve[6:8]) > 60


def identity_system(twelve: str) -> str:
    """The OID that names the kind of identity number ``twelve`` is."""
    return COORDINATION_NUMBER_OID if is_coordination_number(twelve) else PERSONAL_NUMBER_OID
