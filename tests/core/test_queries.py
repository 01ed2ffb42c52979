"""core.queries: statements built once, and found_by's one statement for several optional reads."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select

from webapp.auth.models import User
from webapp.core.queries import Bound, _exists_of, found_by

_USERS = select(User).where(User.id.in_(bindparam("user_ids", expanding=True)))
_BY_ROLE = select(User).where(User.role == bindparam("user_role"))


def test_found_by_names_the_queries_that_find_rows(app, db, make):
    patient = make.user("patient")
    with app.test_request_context():
        found = found_by({"one": Bound(_USERS, {"user_ids": [patient.id]}),
                          "none": Bound(_USERS.where(User.id < 0), {"user_ids": [patient.id]}),
                          "patients": Bound(_BY_ROLE, {"user_role": "patient"}),
                          "no one": Bound(_BY_ROLE.where(User.id < 0), {"user_role": "patient"}),
                          "nothing to ask": None})
    assert found == {"one", "patients"}


def test_found_by_builds_its_statement_once_per_combination(app, db, make):
    patient = make.user("patient")
    _exists_of.cache_clear()
    with app.test_request_context():
        for user_id in (patient.id, patient.id + 1000):
            found_by({"user": Bound(_USERS, {"user_ids": [user_id]}), "role": Bound(_BY_ROLE, {"user_role": "x"})})
    assert _exists_of.cache_info().misses == 1 and _exists_of.cache_info().hits == 1


def test_two_queries_may_not_bind_one_name_to_different_values(app, db):
    with app.test_request_context(), pytest.raises(ValueError, match="user_ids"):
        found_by({"a": Bound(_USERS, {"user_ids": [1]}), "b": Bound(_USERS.where(User.id > 0), {"user_ids": [2]})})
