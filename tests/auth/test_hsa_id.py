"""An administrator gives a staff account its HSA-id (``flask staff set-hsa-id``)."""

from __future__ import annotations

from sqlalchemy import select

from webapp.core.audit import AccessLogEntry


def test_set_and_remove_hsa_id(runner, db, make):
    clinician = make.user("clinician", email="kari@lotsa.example")
    result = runner.invoke(args=["staff", "set-hsa-id", "kari@lotsa.example", "se2321000016-1a2b"])
    assert result.exit_code == 0, result.output
    db.session.refresh(clinician)
    assert clinician.hsa_id == "SE2321000016-1A2B"
    assert db.session.scalar(select(AccessLogEntry.id).where(AccessLogEntry.action == "security.hsa_id_set"))
    result = runner.invoke(args=["staff", "set-hsa-id", "kari@lotsa.example", "--remove"])
    assert result.exit_code == 0
    db.session.refresh(clinician)
    assert clinician.hsa_id is None


def test_hsa_id_format_uniqueness_and_staff_only(runner, db, make):
    make.user("clinician", email="a@lotsa.example")
    make.user("clinician", email="b@lotsa.example")
    make.user("patient", email="p@lotsa.example")
    assert "ten digits" in runner.invoke(args=["staff", "set-hsa-id", "a@lotsa.example", "1234"]).output
    assert runner.invoke(args=["staff", "set-hsa-id", "a@lotsa.example", "SE2321000016-1001"]).exit_code == 0
    taken = runner.invoke(args=["staff", "set-hsa-id", "b@lotsa.example", "SE2321000016-1001"])
    assert taken.exit_code != 0 and "already has" in taken.output
    assert runner.invoke(args=["staff", "set-hsa-id", "p@lotsa.example", "SE2321000016-1002"]).exit_code != 0
