"""Personal identity numbers and mobile numbers."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.core.identity import IdentityError, luhn_check_digit, normalise_mobile, normalise_personal_number

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("191212121212", "191212121212"),
        ("19121212-1212", "191212121212"),
        (" 19121212 - 1212 ", "191212121212"),
        ("811218-9876", "198112189876"),
        ("8112189876", "198112189876"),
        ("201701012393", "201701012393"),
        ("121212+1212", "191212121212"),  # '+': 100 years or older
    ],
)
def test_valid_numbers_are_normalised(raw, expected):
    assert normalise_personal_number(raw, TODAY) == expected


@pytest.mark.parametrize(
    "raw, code",
    [
        ("191212121213", "checksum"),
        ("19121312-1212", "date"),
        ("19120230-1234", "date"),
        ("20991212-1212", "date"),  # not born yet
        ("1912121212121", "format"),
        ("19121212", "format"),
        ("abcdefghijkl", "format"),
        ("", "format"),
    ],
)
def test_invalid_numbers_say_what_is_wrong(raw, code):
    with pytest.raises(IdentityError) as info:
        normalise_personal_number(raw, TODAY)
    assert info.value.code == code


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY), st.integers(min_value=0, max_value=999))
def test_any_real_date_with_its_check_digit_is_valid_and_others_are_not(born, birth_number):
    body = f"{born:%y%m%d}{birth_number:03d}"
    check = luhn_check_digit(body)
    number = f"{born:%Y%m%d}{birth_number:03d}{check}"
    assert normalise_personal_number(number, TODAY) == number
    wrong = f"{born:%Y%m%d}{birth_number:03d}{(check + 1) % 10}"
    with pytest.raises(IdentityError):
        normalise_personal_number(wrong, TODAY)


@pytest.mark.parametrize("raw", ["070-174 06 05", "0701740605", "+46 70 174 06 05", "0046701740605"])
def test_mobile_numbers_become_e164(raw):
    assert normalise_mobile(raw) == "+46701740605"


@pytest.mark.parametrize("raw", ["08-123 456 78", "12345", "not a number"])
def test_landlines_and_junk_are_refused(raw):
    with pytest.raises(ValueError):
        normalise_mobile(raw)
