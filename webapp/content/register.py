"""A programme's register timepoints: when the national pain-rehabilitation register
(NRS) follows a patient, and with which instruments.

Written in programme.yaml as::

    register:
      - {id: before, at: start, forms: [managing-pain, peg, hads]}
      - {id: after, at: end, forms: [managing-pain, peg, hads]}
      - {id: 12m, at: 365, forms: [managing-pain, peg, hads]}

``at`` is start, end (the last module done) or a number of days after the start,
as for measures. Lotsa sends the free instruments at each timepoint and exports
one row per patient and timepoint; it submits nothing to the register.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webapp.content.parser import Problem, line_of_key

# Stored in a dispatch's purpose as "reg-<id>" (16 characters at most).
TIMEPOINT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,11}$")
FIX = "write e.g. '- {id: before, at: start, forms: [peg, hads]}' or '- {id: 12m, at: 365, forms: [peg]}'"


@dataclass(frozen=True)
class Timepoint:
    id: str
    at: str | int            # "start", "end" or days after the start
    forms: tuple[str, ...]

    @property
    def purpose(self) -> str:
        """The purpose of the dispatches sent for this timepoint."""
        return f"reg-{self.id}"

    @property
    def measure_purpose(self) -> str:
        """The purpose of a programme measure sent at the same moment (its answer counts here too)."""
        return {"start": "before", "end": "after"}.get(self.at, f"day-{self.at}")


def _line_of_entry(text: str, first: int, entry_id, nth: int) -> int:
    """The line of the ``nth`` (0-based) entry written with this id (a repeated id has several)."""
    lines = text.split("\n")
    found = [n for n in range(first, len(lines) + 1)
             if re.search(rf"\bid:\s*{re.escape(str(entry_id))}\b", lines[n - 1])]
    return found[nth] if nth < len(found) else first


def parse_register(raw, text: str, rel: str, form_ids: set[str], problems: list[Problem]) -> list[Timepoint]:
    """The timepoints under ``register:``; each wrong entry is a problem at its line and left out."""
    if raw is None:
        return []
    first = line_of_key(text, "register")
    if not isinstance(raw, list):
        problems.append(Problem(rel, first, "register must be a list of timepoints", FIX))
        return []
    timepoints: list[Timepoint] = []
    seen: dict[str, int] = {}
    for entry in raw:
        if not isinstance(entry, dict):
            problems.append(Problem(rel, first, "every register timepoint must be a {id, at, forms} entry", FIX))
            continue
        entry_id, at, forms = entry.get("id"), entry.get("at"), entry.get("forms")
        nth = seen[str(entry_id)] = seen.get(str(entry_id), -1) + 1
        line = _line_of_entry(text, first, entry_id, nth) if entry_id is not None else first
        if not isinstance(entry_id, str | int) or not TIMEPOINT_ID.match(str(entry_id)):
            problems.append(Problem(rel, line, f"the register timepoint id {entry_id!r} is not 1-12 lower-case "
                                    "letters, digits or hyphens", FIX))
            continue
        entry_id = str(entry_id)
        if any(t.id == entry_id for t in timepoints):
            problems.append(Problem(rel, line, f"the register timepoint {entry_id!r} is written twice",
                                    "give every timepoint its own id"))
            continue
        if not (at in ("start", "end") or (isinstance(at, int) and not isinstance(at, bool) and 0 < at <= 3650)):
            problems.append(Problem(rel, line, f"the register timepoint {entry_id!r} is at {at!r}, not at start, "
                                    "end or a number of days (1-3650)", FIX))
            continue
        if not isinstance(forms, list) or not forms or not all(isinstance(f, str) for f in forms):
            problems.append(Problem(rel, line, f"the register timepoint {entry_id!r} names no forms", FIX))
            continue
        unknown = [f for f in forms if f not in form_ids]
        if unknown:
            problems.append(Problem(rel, line, f"the register timepoint {entry_id!r} names "
                                    f"{', '.join(map(repr, unknown))}, not a questionnaire in content/forms",
                                    "write the id of a file in content/forms"))
            continue
        timepoints.append(Timepoint(entry_id, at, tuple(dict.fromkeys(forms))))
    return timepoints
