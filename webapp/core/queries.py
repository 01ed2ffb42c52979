"""Reads shared by features: which of several optional reads would find anything."""

from __future__ import annotations

from sqlalchemy import Select, select

from webapp.extensions import db


def found_by(queries: dict[str, Select | None]) -> set[str]:
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
    row = db.session.execute(select(*(query.exists().label(name) for name, query in asked.items()))).one()
    return {name for name, found in zip(asked, row, strict=True) if found}
