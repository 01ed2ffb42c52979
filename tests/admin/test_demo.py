"""The demo that `make run` seeds: every role can log in and has something to see."""

from __future__ import annotations

import pyotp
from sqlalchemy import func, select

from tests.fixtures.plugin import Auth
from webapp.auth.models import User
from webapp.messages.models import Message
from webapp.programme.models import Enrolment


def test_demo_seed_and_logins(app, runner, db):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "lotsa-demo-2026" in result.output and "tolvan@lotsa.example" in result.output
    assert sorted(db.session.scalars(select(Enrolment.status))) == ["active", "closed", "maintenance"]
    assert db.session.scalar(select(func.count()).select_from(Message)) == 3
    # Seeding twice is refused; --if-empty just prints the logins again.
    assert runner.invoke(args=["demo", "seed"]).exit_code != 0
    assert runner.invoke(args=["demo", "seed", "--if-empty"]).exit_code == 0

    patient = app.test_client()
    Auth(patient, db).login(db.session.scalars(select(User).where(User.email == "tolvan@lotsa.example")).one(),
                            "lotsa-demo-2026")
    home = patient.get("/home").get_data(as_text=True)
    assert "Digital smärtskola" in home and "3 av 10 moduler klara" in home

    elin = db.session.scalars(select(User).where(User.email == "elin@lotsa.example")).one()
    code = runner.invoke(args=["demo", "code", "elin@lotsa.example"]).output.strip()
    assert code == pyotp.TOTP(elin.totp_secret).now()
    clinician = app.test_client()
    auth = Auth(clinician, db)
    auth.post("/auth/login", {"email": elin.email, "password": "lotsa-demo-2026"}, "/auth/login")
    auth.post("/auth/two-factor", {"code": code}, "/auth/two-factor")
    caseload = clinician.get("/clinician/").get_data(as_text=True)
    assert "Tolvan Tolvansson" in caseload and "Kim Exempelsson" in caseload
