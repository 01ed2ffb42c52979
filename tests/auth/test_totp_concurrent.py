"""A two-factor code is accepted once even when two processes check it at the same moment.

Each request reads the user's last used step, so two requests with the same
code on two workers or app servers both saw the old step and both logged in.
The step is now moved forward with a conditional UPDATE: only one matches.
"""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm.attributes import set_committed_value

from webapp.auth.models import User
from webapp.auth.services import verify_totp


def _current_code(user) -> tuple[int, str]:
    step = int(time.time() // 30)
    return step, pyotp.TOTP(user.totp_secret).generate_otp(step)


def _other_process_accepts(database_url: str, user_id: int, step: int) -> None:
    """What the other worker's request committed: the step is used."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text('UPDATE "user" SET totp_last_step = :step WHERE id = :id'),
                         {"step": step, "id": user_id})
    finally:
        engine.dispose()


def test_a_code_another_process_just_accepted_is_refused(app, db, make):
    clinician = make.user("clinician", units=[make.unit()])
    step, code = _current_code(clinician)
    user_id = clinician.id
    db.session.commit()  # no transaction open here (SQLite would block the other connection)
    _other_process_accepts(app.config["SQLALCHEMY_DATABASE_URI"], user_id, step)
    db.session.refresh(clinician)
    # This request read the row just before the other one committed.
    set_committed_value(clinician, "totp_last_step", None)
    assert verify_totp(clinician, code) is False
    db.session.rollback()
    assert db.session.get(User, user_id).totp_last_step == step


def test_a_fresh_code_is_accepted_and_recorded(app, db, make):
    clinician = make.user("clinician", units=[make.unit()])
    step, code = _current_code(clinician)
    assert verify_totp(clinician, code) is True
    assert clinician.totp_last_step == step
    db.session.commit()
    assert db.session.get(User, clinician.id).totp_last_step == step
    assert verify_totp(clinician, code) is False


@pytest.mark.postgres_only
def test_same_code_in_two_overlapping_transactions_logs_in_once(app, db, make):
    clinician = make.user("clinician", units=[make.unit()])
    step, code = _current_code(clinician)
    # This transaction has read the user (no step used yet) and is still open ...
    assert db.session.get(User, clinician.id).totp_last_step in (None, 0)
    # ... while the other worker accepts the same code and commits.
    _other_process_accepts(app.config["SQLALCHEMY_DATABASE_URI"], clinician.id, step)
    assert verify_totp(clinician, code) is False
    db.session.rollback()
