"""Measuring how many SQL statements a page costs, for the query-bound tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class World:
    """The people every case starts from, and what the data builders made.

    A builder adding row ``n`` stores in ``marks[n]`` a text the page must show
    for that row, so a page that silently shows nothing fails the test.
    """

    db: object
    make: object
    unit: object
    clinician: object
    patient: object
    enrolment: object
    marks: dict[int, str] = field(default_factory=dict)
    # Whatever a builder needs to remember between its calls (a group, a round…).
    kept: dict[str, object] = field(default_factory=dict)

    def flush(self, *rows) -> None:
        """Add rows and give them their ids; the test commits once the builder is done."""
        self.db.session.add_all(rows)
        self.db.session.flush()


@dataclass(frozen=True)
class Case:
    """A page, who looks at it, and how to add the rows that grow on it."""

    id: str
    role: str
    url: Callable[[World], str]
    add: Callable[[World, range], None]
    # Where the content caps the rows (an enrolment has 33 answer blocks), fewer than 50.
    rows: int = 50


def measure(client, url: str, count_queries):
    """Request the page once (caches, first-request writes), then count a second request."""
    warm = client.get(url)
    assert warm.status_code == 200, f"{url} answered {warm.status_code}"
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return counter, response.get_data(as_text=True)


def listing(counter) -> str:
    """The statements, one line of at most 80 characters each, for a failure message."""
    return "\n".join(" ".join(s.split())[:80] for s in counter.statements)
