"""A diary on a phone: three days registered, the chart and its table, and the printed summary."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader

from tests.e2e.helpers import log_in

pytestmark = pytest.mark.e2e

DIARY = "physical-activity-baseline"
DAYS = [(2, "20", "6", "6"), (1, "35", "5", "6,5"), (0, "40", "3", "7")]  # (days ago, minutes, pain, sleep)


def test_three_days_registered_show_as_a_chart_a_table_and_in_the_printed_summary(page, live_server, make, db, axe):
    from webapp.content.services import get_catalogue
    from webapp.core.dates import local_today
    from webapp.core.db import utcnow
    from webapp.programme.models import ScheduleEntry

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Kim Exempelsson")
    enrolment = make.enrolment(patient, unit, clinician)
    module = next(m for m in get_catalogue().programmes["pain-school"].published_modules if DIARY in m.diary_ids())
    db.session.add(ScheduleEntry(enrolment_id=enrolment.id, module_id=module.id, opens_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    page_number = next(n for n, p in enumerate(module.versions["sv"].pages, start=1)
                       if any(s.id == DIARY for s in p.segments))
    email, enrolment_id = patient.email, enrolment.id
    db.session.close()

    page.set_viewport_size({"width": 360, "height": 740})
    log_in(page, live_server.url, email)
    page.goto(f"{live_server.url}/e/{enrolment_id}/{module.id}/{page_number}")
    diary = page.locator(f"#diary-{DIARY}")
    for days_ago, minutes, pain, sleep in DAYS:
        diary.get_by_role("textbox", name="Datum").fill((local_today() - timedelta(days=days_ago)).isoformat())
        diary.get_by_role("textbox", name="Minuter i rörelse (min)").fill(minutes)
        diary.get_by_role("group", name="Smärta i dag").get_by_label(pain, exact=True).check()
        diary.get_by_role("textbox", name="Timmar sömn i natt (tim)").fill(sleep)
        with page.expect_navigation():
            diary.get_by_role("button", name="Spara registreringen").click()
        assert page.get_by_text("Din registrering för").is_visible()

    # The chart shows three points for each value, and the table alternative lists the three days.
    page.goto(f"{live_server.url}/e/{enrolment_id}/diary/{DIARY}")
    for name in ("Minuter i rörelse (min)", "Smärta i dag", "Timmar sömn i natt (tim)"):
        chart = page.locator("figure.diary-chart", has_text=name).locator("svg")
        assert chart.locator("circle.diary-point").count() == 3, name
    table = page.get_by_role("table", name="Mina registreringar som tabell")
    rows = table.locator("tbody tr")
    assert rows.count() == 3
    assert " ".join(rows.nth(0).inner_text().split()).endswith("40 min 3 7 tim")
    assert "6,5 tim" in rows.nth(1).inner_text()
    axe(page, "diary page")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the diary page scrolls sideways on a phone"

    # The printed summary holds the same numbers.
    page.goto(f"{live_server.url}/e/{enrolment_id}/summary")
    page.emulate_media(media="print")
    text = " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(page.pdf(format="A4"))).pages).split())
    assert "Mina registreringar som tabell" in text
    for _days_ago, minutes, pain, sleep in DAYS:
        assert f"{minutes} min {pain} {sleep} tim" in text, text[-1500:]
