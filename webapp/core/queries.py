"""Reads shared by features: statements built once, and which of several optional reads would find anything."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import Select, select

from webapp.extensions import db


@dataclass(frozen=True)
class Bound:
    """A statement built once, with bound parameters, and the values of one use of it.

    Building a statement and its cache key anew on every request cost more
    than running it (issue 25): the statement is a module-level constant and
    only ``params`` change. Parameter names carry their feature's prefix, so
    that ``found_by`` can ask several features' statements in one.
    """

    statement: Select
    params: dict


def found_by(queries: dict[str, Bound | None]) -> set[str]:
    """The names of the queries that would find at least one row, asked in one statement.

    A page that shows several kinds of rows most people have none of (the
    patient's start page: a group, a care plan, a reply from the unit) asks
    this first and runs only the queries that find something. Each query not
    sent saves a round trip to the database and the ORM's work on an empty
    result (issue 25). A query given as None (nothing to ask about) is not found.
    """
    asked = {name: query for name, query in queries.items() if query is not None}
    if not asked:
        return set()
    params: dict = {}
    for query in asked.values():
        for key, value in query.params.items():
            if params.setdefault(key, value) != value:
                raise ValueError(f"two queries bind {key!r} to different values")
    statement = _exists_of(tuple((name, query.statement) for name, query in asked.items()))
    row = db.session.execute(statement, params).one()
    return {name for name, found in zip(asked, row, strict=True) if found}


@functools.lru_cache(maxsize=64)
def _exists_of(named: tuple[tuple[str, Select], ...]) -> Select:
    """One row of EXISTS columns, built once per combination of statements."""
    return select(*(statement.exists().label(name) for name, statement in named))
