"""The aggregate follow-up keeps its promise: no figure about fewer than five patients,
and numbers and percentages in the reader's locale, on the page and in the CSV."""

from __future__ import annotations

import csv
import io

import pytest

from tests.fixtures.plugin import Auth


def _unit_with(make, patients: int, with_clinician: int, name: str):
    unit = make.unit(name=name)
    clinician = make.user("clinician", units=[unit])
    for n in range(patients):
        make.enrolment(make.user("patient"), unit, clinician if n < with_clinician else None)
    return unit


def _admin(app, db, make, locale="sv"):
    client = app.test_client()
    Auth(client, db).login(make.user("admin", locale=locale))
    return client


def test_a_unit_with_three_patients_shows_less_than_five_on_the_page_and_in_the_csv(app, db, make):
    _unit_with(make, 3, 3, "Lilla enheten")
    client = _admin(app, db, make)
    html = client.get("/admin/follow-up").get_data(as_text=True)
    section = html[html.index("Lilla enheten"):]
    assert "&lt; 5 (aktiva: &lt; 5)" in section
    assert "100,0" not in section and ">3<" not in section and " 3 " not in section
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/follow-up?format=csv").get_data(as_text=True))))
    small = [r for r in rows if r["care_unit"] == "Lilla enheten"]
    assert small and all(r["enrolments"] == "< 5" and r["active"] == "< 5" for r in small)
    assert all(r["share_with_responsible_clinician_pct"] == "< 5" for r in small)
    # In so small a group every figure is suppressed, a 0 too ("none of them" is about each of them).
    assert all(r["patients_completed_module"] == "< 5" for r in small)
    assert all(r["share_inactive_over_14_days_pct"] == "< 5" and r["median_days_per_module"] == "< 5" for r in small)


@pytest.mark.parametrize("locale, share, count", [("sv", "60,0\xa0%", "10"), ("en", "60.0%", "10"),
                                                  ("ar", "60.0%", "10"), ("fa", "60.0%", "10")])
def test_figures_follow_the_readers_locale(app, db, make, locale, share, count):
    # Ten patients, six with a responsible clinician: nothing suppressed.
    _unit_with(make, 10, 6, "Stora enheten")
    client = _admin(app, db, make, locale)
    html = client.get("/admin/follow-up").get_data(as_text=True)
    section = html[html.index("Stora enheten"):]
    assert share in section and f">{count} (" in section and "&lt; 5 (" not in section
    # The file is for spreadsheets and scripts: a decimal point whatever the reader's language.
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/follow-up?format=csv").get_data(as_text=True))))
    assert {r["share_with_responsible_clinician_pct"] for r in rows if r["care_unit"] == "Stora enheten"} == {"60.0"}


def test_cells_suppress_one_to_four_patients_and_nothing_else(app):
    from webapp.admin.services import count_cell, decimal_cell, share_cell

    with app.test_request_context():
        assert [count_cell(n).text for n in range(7)] == ["0", "< 5", "< 5", "< 5", "< 5", "5", "6"]
        assert share_cell(75.0, 4).suppressed and not share_cell(75.0, 5).suppressed
        assert share_cell(None, 0).text == "–"
        assert decimal_cell(2.25, 4).text == "< 5" and decimal_cell(1234.5, 20).text == "1\xa0234,5"
