"""Sensitive actions ask for a recent login: exports and erasure, by password (+ code) or e-ID."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update

from webapp.auth.models import UserSession
from webapp.core.audit import AccessLogEntry
from webapp.core.db import utcnow


def age_sessions(db, user, minutes: int = 30) -> None:
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id)
                       .values(authenticated_at=utcnow() - timedelta(minutes=minutes)))
    db.session.commit()


def test_fresh_login_exports_at_once(auth, client, make):
    patient = make.user("patient")
    auth.login(patient)
    assert client.get("/account/my-data.json").status_code == 200


def test_old_login_must_confirm_with_password_before_export(auth, client, db, make):
    patient = make.user("patient")
    auth.login(patient)
    age_sessions(db, patient)
    response = client.get("/account/my-data.json")
    assert response.status_code == 302 and urlsplit(response.location).path == "/auth/reauthenticate"
    page = client.get(response.location)
    assert page.status_code == 200
    wrong = auth.post(response.location, {"password": "not the password", "next": "/account/my-data.json"},
                      response.location)
    assert wrong.status_code == 200
    right = auth.post(response.location, {"password": "correct horse battery", "next": "/account/my-data.json"},
                      response.location)
    assert right.status_code == 302 and right.location.endswith("/account/my-data.json")
    assert client.get("/account/my-data.json").status_code == 200
    assert db.session.scalar(select(AccessLogEntry.id).where(AccessLogEntry.action == "security.reauthenticated"))


def test_staff_confirm_with_password_and_code(auth, client, db, make):
    admin = make.user("admin")
    patient = make.user("patient")
    auth.login(admin)
    age_sessions(db, admin)
    url = f"/admin/privacy/{patient.id}/export.json"
    response = client.get(url)
    assert urlsplit(response.location).path == "/auth/reauthenticate"
    without_code = auth.post("/auth/reauthenticate", {"password": "correct horse battery", "next": url},
                             "/auth/reauthenticate")
    assert without_code.status_code == 200
    with_code = auth.post("/auth/reauthenticate", {"password": "correct horse battery", "code": auth.next_code(admin),
                                                   "next": url}, "/auth/reauthenticate")
    assert with_code.status_code == 302
    assert client.get(url).status_code == 200


def test_erasure_needs_a_fresh_login(auth, client, db, make):
    admin = make.user("admin")
    patient = make.user("patient")
    auth.login(admin)
    age_sessions(db, admin)
    response = auth.post(f"/admin/privacy/{patient.id}/erase", {"confirm": patient.email}, "/admin/privacy")
    assert response.status_code == 302 and "/auth/reauthenticate" in response.location
    assert db.session.get(type(patient), patient.id) is not None
