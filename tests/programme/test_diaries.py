"""Diaries: registrations saved per day with versions, refused values kept with a message, the chart
and table on the patient's pages, the summary, the clinician's enrolment page and the data export."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from webapp.core.audit import AccessLogEntry
from webapp.core.dates import local_today
from webapp.core.db import utcnow
from webapp.programme import diaries
from webapp.programme.models import DiaryEntry, DiaryEntryVersion, ScheduleEntry

DIARY = "physical-activity-baseline"
MODULE = "physical-activity"


@pytest.fixture
def world(make, db):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Tolvan Tolvansson")
    enrolment = make.enrolment(patient, unit, clinician)
    # The pain school opens a module a week: open the one with the diary now.
    db.session.add(ScheduleEntry(enrolment_id=enrolment.id, module_id=MODULE, opens_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    return {"enrolment": enrolment, "patient": patient, "clinician": clinician}


def _post(auth, enrolment, **fields):
    return auth.post(f"/e/{enrolment.id}/diary/{DIARY}/entries", fields, f"/e/{enrolment.id}/diary/{DIARY}")


def _day(days_ago: int) -> str:
    return (local_today() - timedelta(days=days_ago)).isoformat()


def test_registrations_are_saved_per_day_and_every_state_is_kept(client, auth, world, db):
    auth.login(world["patient"])
    enrolment = world["enrolment"]
    response = _post(auth, enrolment, day=_day(1), **{"v-activity": "30", "v-pain": "4", "v-sleep": "7,5"})
    assert response.status_code == 302 and response.location.endswith(f"/e/{enrolment.id}/diary/{DIARY}")
    _post(auth, enrolment, day=_day(0), **{"v-activity": "45", "v-pain": "3"})
    # The same day again changes that day and keeps the earlier state.
    _post(auth, enrolment, day=_day(1), **{"v-activity": "35", "v-pain": "4", "v-sleep": "7.5"})
    entries = db.session.scalars(select(DiaryEntry).order_by(DiaryEntry.day)).all()
    assert [(e.day.isoformat(), e.numbers, e.version) for e in entries] == [
        (_day(1), {"activity": 35, "pain": 4, "sleep": 7.5}, 2), (_day(0), {"activity": 45, "pain": 3}, 1)]
    versions = db.session.scalars(select(DiaryEntryVersion).where(DiaryEntryVersion.entry_id == entries[0].id)
                                  .order_by(DiaryEntryVersion.version)).all()
    assert [json.loads(v.values)["activity"] for v in versions] == [30, 35]
    # The same values again (a double press) make no new version.
    _post(auth, enrolment, day=_day(1), **{"v-activity": "35", "v-pain": "4", "v-sleep": "7.5"})
    assert db.session.scalar(select(DiaryEntry.version).where(DiaryEntry.id == entries[0].id)) == 2


REFUSED = [
    ({"v-pain": "11"}, "v-pain", "Smärta i dag ska vara mellan 0 och 10."),
    ({"v-activity": "-5"}, "v-activity", "Minuter i rörelse ska vara mellan 0 och 600."),
    ({"v-activity": "7"}, "v-activity", "Minuter i rörelse anges i steg om 5."),
    ({"v-sleep": "mycket"}, "v-sleep", "Skriv ett tal, till exempel 0,5."),
    ({"v-sleep": "٧"}, "v-sleep", "Skriv ett tal"),
    ({"v-sleep": "1e3"}, "v-sleep", "Skriv ett tal"),
    ({"v-sleep": "nan"}, "v-sleep", "Skriv ett tal"),
    ({}, None, "Fyll i minst ett värde innan du sparar."),
]


@pytest.mark.parametrize("fields, kept, message", REFUSED)
def test_refused_values_get_a_message_in_swedish_and_lose_nothing(client, auth, world, db, fields, kept, message):
    auth.login(world["patient"])
    typed = {"v-activity": "20", "v-pain": "", "v-sleep": "", **fields} if fields else {}
    response = _post(auth, world["enrolment"], day=_day(2), **typed)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html
    assert 'aria-invalid="true"' in html or kept is None
    if kept:
        assert f'name="{kept}" value="{fields[kept]}"' in html or f'value="{fields[kept]}" checked' in html \
            or kept == "v-pain"
        assert 'name="v-activity" value="20"' in html or kept == "v-activity"
    assert f'value="{_day(2)}"' in html
    assert db.session.scalars(select(DiaryEntry)).all() == []


@pytest.mark.parametrize("day, message", [
    ("tomorrow", "Skriv datumet som år-månad-dag"),
    ((local_today() + timedelta(days=1)).isoformat(), "Datumet ligger i framtiden"),
    ((local_today() - timedelta(days=diaries.OLDEST_DAYS + 1)).isoformat(), "mer än ett år bakåt"),
    ("99999-01-01", "Skriv datumet som år-månad-dag"),
])
def test_a_future_or_absurdly_old_day_is_refused(client, auth, world, db, day, message):
    auth.login(world["patient"])
    response = _post(auth, world["enrolment"], day=day, **{"v-pain": "5"})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalars(select(DiaryEntry)).all() == []


def test_an_empty_day_means_today(client, auth, world, db):
    auth.login(world["patient"])
    _post(auth, world["enrolment"], day="", **{"v-pain": "5"})
    assert db.session.scalars(select(DiaryEntry.day)).one() == local_today()


def test_an_error_on_the_module_page_shows_the_page_again_with_the_message(client, auth, world, db):
    auth.login(world["patient"])
    enrolment = world["enrolment"]
    page = next(n for n, p in enumerate(_module_version(enrolment).pages, start=1)
                if any(s.kind == "diary" for s in p.segments))
    response = _post(auth, enrolment, day=_day(0), page=str(page), back="page", **{"v-pain": "12"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Smärta i dag ska vara mellan 0 och 10." in html
    assert f"Sida {page} av" in html
    ok = _post(auth, enrolment, day=_day(0), page=str(page), back="page", **{"v-pain": "2"})
    assert ok.status_code == 302 and ok.location.endswith(f"/e/{enrolment.id}/{MODULE}/{page}#diary-{DIARY}")


def _module_version(enrolment):
    from webapp.content.services import get_catalogue

    return get_catalogue().programmes[enrolment.programme_id].module(MODULE).versions["sv"]


def _register_three_days(auth, enrolment):
    for days_ago, (activity, pain, sleep) in zip((2, 1, 0), (("20", "6", "6"), ("30", "5", "6,5"), ("40", "4", "7")), strict=True):
        _post(auth, enrolment, day=_day(days_ago), **{"v-activity": activity, "v-pain": pain, "v-sleep": sleep})


def _points(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-points="(\d+)"', html)]


def test_the_diary_page_draws_a_chart_per_value_and_the_same_numbers_in_tables(client, auth, world):
    auth.login(world["patient"])
    enrolment = world["enrolment"]
    _register_three_days(auth, enrolment)
    html = client.get(f"/e/{enrolment.id}/diary/{DIARY}").get_data(as_text=True)
    assert _points(html) == [3, 3, 3]
    assert html.count('class="diary-point"') == 9
    table = html[html.index('class="diary-table"'):html.index("</table>", html.index('class="diary-table"'))]
    assert table.count("<tr>") == 4  # the header and three days
    for value in ("20 min", "30 min", "40 min", "6,5 tim", "7 tim", ">4<", ">6<"):
        assert value in table
    weeks = html[html.index('class="diary-weeks"'):]
    assert "Vecka" in weeks and "Dagar med registrering" in weeks


def test_the_diary_page_costs_the_same_queries_whatever_the_number_of_registrations(client, auth, world,
                                                                                   count_queries, db):
    auth.login(world["patient"])
    enrolment = world["enrolment"]
    url = f"/e/{enrolment.id}/diary/{DIARY}"
    _post(auth, enrolment, day=_day(0), **{"v-pain": "3"})
    client.get(url)
    with count_queries() as one:
        client.get(url)
    module = _module_version(enrolment)
    for days_ago in range(1, 60):
        db.session.add(DiaryEntry(enrolment_id=enrolment.id, module_id=MODULE, block_id=DIARY,
                                  day=local_today() - timedelta(days=days_ago), values='{"pain": 5}', version=1))
    db.session.commit()
    with count_queries() as many:
        html = client.get(url).get_data(as_text=True)
    assert _points(html) == [60] and module
    assert many.count == one.count, "\n".join(s[:80].replace("\n", " ") for s in many.statements)


def test_the_summary_and_the_clinician_show_the_chart_and_table_and_the_view_is_logged(client, auth, world, db):
    auth.login(world["patient"])
    enrolment = world["enrolment"]
    _register_three_days(auth, enrolment)
    summary = client.get(f"/e/{enrolment.id}/summary").get_data(as_text=True)
    assert "Min dagbok" in summary and _points(summary) == [3, 3, 3] and "40 min" in summary
    auth.logout()
    auth.login(world["clinician"])
    html = client.get(f"/clinician/enrolments/{enrolment.id}/answers").get_data(as_text=True)
    assert _points(html) == [3, 3, 3] and "40 min" in html and "Vecka" in html
    logged = [e.action for e in db.session.scalars(select(AccessLogEntry).where(
        AccessLogEntry.enrolment_id == enrolment.id))]
    assert "enrolment.answers" in logged


def test_a_diary_in_a_module_that_is_not_open_or_of_another_patient_does_not_exist(client, auth, world, make, db):
    other = make.user("patient")
    other_enrolment = make.enrolment(other, world["enrolment"].care_unit, world["clinician"])
    auth.login(other)
    assert client.get(f"/e/{other_enrolment.id}/diary/{DIARY}").status_code == 404  # the module is not open yet
    assert client.get(f"/e/{world['enrolment'].id}/diary/{DIARY}").status_code == 404
    assert _post(auth, world["enrolment"], **{"v-pain": "3"}).status_code == 404
    assert client.get(f"/e/{other_enrolment.id}/diary/no-such-diary").status_code == 404
    assert db.session.scalars(select(DiaryEntry)).all() == []


def test_registrations_are_in_the_export_and_purged_with_the_enrolment(app, client, auth, world, db):
    from webapp.privacy.services import collect, purge_expired_records

    auth.login(world["patient"])
    _register_three_days(auth, world["enrolment"])
    data = collect(world["patient"])
    assert [json.loads(e["values"])["activity"] for e in data["diary_entries"]] == [20, 30, 40]
    assert len(data["diary_entry_versions"]) == 3
    readable = client.get("/account/my-data").get_data(as_text=True)
    assert "Dagboksregistreringar" in readable and "Registrerade värden" in readable
    enrolment = world["enrolment"]
    enrolment.status, enrolment.closed_at = "closed", utcnow() - timedelta(days=365 * 30)
    db.session.commit()
    assert purge_expired_records() == 1
    db.session.commit()
    assert db.session.scalars(select(DiaryEntry)).all() == []
    assert db.session.scalars(select(DiaryEntryVersion)).all() == []


def test_weekly_summary_takes_the_mean_or_the_total_and_counts_yes_days():
    from webapp.content.parser import DiaryField

    fields = (DiaryField("minutes", "number", "Minuter", 0, 600, 5, summary="total"),
              DiaryField("pain", "scale", "Smärta", 0, 10),
              DiaryField("done", "yesno", "Gjort", 0, 1))
    monday = local_today() - timedelta(days=local_today().weekday())
    entries = [DiaryEntry(day=monday - timedelta(days=7), values='{"minutes": 10, "pain": 8, "done": 0}'),
               DiaryEntry(day=monday, values='{"minutes": 20, "pain": 4, "done": 1}'),
               DiaryEntry(day=monday + timedelta(days=1), values='{"minutes": 30, "pain": 5, "done": 1}'),
               DiaryEntry(day=monday + timedelta(days=2), values='{"minutes": 5}')]
    this_week, last_week = diaries.weekly(fields, entries)
    assert (this_week.days, this_week.figures) == (3, {"minutes": 55, "pain": 4.5, "done": 2})
    assert (last_week.days, last_week.figures) == (1, {"minutes": 10, "pain": 8, "done": 0})
    assert this_week.monday == monday
