"""Administrators: the access log (filters, CSV) and aggregate follow-up."""

from __future__ import annotations

import csv
import io

import pytest

from tests.fixtures.plugin import Auth
from webapp.core.audit import log_access


@pytest.fixture
def setting(make, db):
    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], email="elsa@lotsa.example")
    alva = make.user("patient", name="Alva Andersson", personal_number="191212121212")
    bo = make.user("patient", name="Bo Berg", personal_number="198112189876")
    e1 = make.enrolment(alva, unit, clinician, programme="pain-school")
    make.enrolment(bo, unit, None, programme="pain-school")
    log_access(clinician, "enrolment.view", patient_id=alva.id, enrolment_id=e1.id, detail="=HYPERLINK(\"x\")")
    log_access(clinician, "enrolment.view", patient_id=bo.id)
    db.session.commit()
    return unit, clinician, alva, bo


def test_access_log_filters_by_patient_and_staff(client, auth, make, setting):
    _unit, clinician, alva, _bo = setting
    auth.login(make.user("admin"))
    html = client.get("/admin/access-log?patient=19121212-1212").get_data(as_text=True)
    assert "Alva Andersson" in html and "Bo Berg" not in html
    assert "Bo Berg" in client.get("/admin/access-log?staff=elsa@lotsa.example").get_data(as_text=True)
    assert "Alva" not in client.get("/admin/access-log?staff=nobody@lotsa.example").get_data(as_text=True)
    assert "Alva" not in client.get("/admin/access-log?start=2099-01-01").get_data(as_text=True)


def test_access_log_csv_export(client, auth, make, setting):
    auth.login(make.user("admin"))
    response = client.get("/admin/access-log?format=csv&patient=191212121212")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["patient_personal_number"] for r in rows] == ["191212121212"]
    assert rows[0]["staff_email"] == "elsa@lotsa.example"
    assert rows[0]["detail"].startswith("'=")  # no formula runs in a spreadsheet


def test_follow_up_has_figures_and_no_identities(client, auth, make, setting):
    auth.login(make.user("admin"))
    html = client.get("/admin/follow-up").get_data(as_text=True)
    assert "Vårdcentralen Ekbacken – Digital smärtskola" in html
    assert "50.0 %" not in html and "&lt; 5" in html  # two patients: every figure about them is suppressed
    assert "Alva" not in html and "191212121212" not in html
    csv_text = client.get("/admin/follow-up?format=csv").get_data(as_text=True)
    assert "Vårdcentralen Ekbacken" in csv_text and "Alva" not in csv_text


def test_clinicians_see_follow_up_for_their_units_only(app, make, db, setting):
    other = make.user("clinician", units=[make.unit(name="Annan enhet")])
    client = app.test_client()
    Auth(client, db).login(other)
    html = client.get("/admin/follow-up").get_data(as_text=True)
    assert "Ekbacken" not in html


@pytest.mark.parametrize("role, status", [("editor", 403), ("patient", 403), ("clinician", 403)])
def test_access_log_is_for_administrators(app, make, db, role, status):
    client = app.test_client()
    Auth(client, db).login(make.user(role, units=[make.unit()] if role == "clinician" else []))
    assert client.get("/admin/access-log").status_code == status


def test_admin_page_warns_when_the_scheduler_is_down_and_lists_failures(client, auth, make, db):
    from webapp.notifications.models import OutboxItem
    from webapp.notifications.services import beat

    auth.login(make.user("admin"))
    html = client.get("/admin/").get_data(as_text=True)
    assert "<title>Administration – Lotsa</title>" in html
    assert "Schemaläggaren körs inte" in html and "Inga misslyckade utskick." in html
    beat()
    db.session.add(OutboxItem(kind="invitation", channel="sms", address="+46701740605", locale="sv", payload="{}",
                              status="failed", attempts=8, last_error="gateway answered 400"))
    db.session.commit()
    html = client.get("/admin/").get_data(as_text=True)
    assert "Schemaläggaren körs inte" not in html
    assert "gateway answered 400" in html
