"""The register export: one row per patient (enrolment) and register timepoint, in a fixed column order.

It prepares a submission to the national pain-rehabilitation register (NRS);
Lotsa submits nothing. Licensed instruments are skeleton columns: Lotsa never
holds their answers, and the unit fills them in from its licensed forms.
docs/register.md lists the columns.
"""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp.auth.models import CareUnit, User
from webapp.content.services import Programme
from webapp.core.dates import to_local
from webapp.core.identity import is_coordination_number
from webapp.extensions import db
from webapp.programme.models import Enrolment
from webapp.questionnaires.models import Dispatch

FIXED = ["personal_number", "identity_type", "care_unit", "programme", "enrolment_id", "started_on", "timepoint",
         "timepoint_at"]


def instruments(programme: Programme) -> list[str]:
    """Every form of the programme's timepoints, in the order first named."""
    return list(dict.fromkeys(f for t in programme.register for f in t.forms))


def columns(programme: Programme, forms: dict) -> list[str]:
    """The header: the fixed columns, then per instrument its date, total, subscales and items."""
    header = list(FIXED)
    for form_id in instruments(programme):
        form = forms[form_id]
        header += [f"{form_id}:status", f"{form_id}:answered_on", f"{form_id}:total"]
        header += [f"{form_id}:{name}" for name in sorted(form.subscales)]
        header += [f"{form_id}:{item.id}" for item in form.items if item.type != "info"]
    return header


def _safe(value: str) -> str:
    """A patient's free text as text in a spreadsheet: never read as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _cells(form, submission) -> list[str]:
    answers = json.loads(submission.answers) if submission else {}
    subscales = json.loads(submission.subscales or "{}") if submission else {}

    def text(value) -> str:
        return "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))

    cells = [text(submission.total) if submission else ""]
    cells += [text(subscales.get(name)) for name in sorted(form.subscales)]
    cells += [_safe(text(answers.get(item.id))) if item.type == "text" else text(answers.get(item.id))
              for item in form.items if item.type != "info"]
    return cells


def rows(unit: CareUnit, programme: Programme, forms: dict) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, rows, patient ids): every started enrolment of the unit in the programme, per timepoint."""
    enrolments = db.session.scalars(
        select(Enrolment).options(joinedload(Enrolment.patient))
        .where(Enrolment.care_unit_id == unit.id, Enrolment.programme_id == programme.id,
               Enrolment.started_at.is_not(None))
        .order_by(Enrolment.started_at, Enrolment.id)).unique().all()
    dispatches: dict[int, list[Dispatch]] = {}
    if enrolments:
        for dispatch in db.session.scalars(
                select(Dispatch).options(joinedload(Dispatch.submission))
                .where(Dispatch.enrolment_id.in_([e.id for e in enrolments])).order_by(Dispatch.send_at)):
            dispatches.setdefault(dispatch.enrolment_id, []).append(dispatch)
    header, out = columns(programme, forms), []
    for enrolment in enrolments:
        patient: User = enrolment.patient
        number = patient.personal_number or ""
        for timepoint in programme.register:
            row = [number, ("samordningsnummer" if is_coordination_number(number) else "personnummer") if number else "",
                   unit.code, programme.id, str(enrolment.id), to_local(enrolment.started_at).date().isoformat(),
                   timepoint.id, str(timepoint.at)]
            for form_id in instruments(programme):
                form = forms[form_id]
                width = 2 + len(form.subscales) + len([i for i in form.items if i.type != "info"])
                if form_id not in timepoint.forms:
                    row += ["not_asked"] + [""] * width
                    continue
                if not form.has_text:
                    row += ["licensed"] + [""] * width  # the skeleton: the unit fills it from its licensed form
                    continue
                sent = [d for d in dispatches.get(enrolment.id, []) if d.form_id == form_id
                        and d.purpose in (timepoint.purpose, timepoint.measure_purpose)]
                answered = [d for d in sent if d.submission is not None]
                if answered:
                    submission = answered[-1].submission
                    row += ["answered", to_local(submission.submitted_at).date().isoformat(), *_cells(form, submission)]
                else:
                    row += ["waiting" if sent else "not_sent", *[""] * width]
            out.append(row)
    return header, out, [e.patient_id for e in enrolments]


def to_csv(header: list[str], body: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(body)
    return buffer.getvalue()
