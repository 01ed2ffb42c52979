"""The append-only access log (Patientdatalagen: every staff read of patient data).

Rows are only ever inserted. The ORM refuses updates and deletes here, and the
migration adds database triggers that refuse them too, so neither a bug nor a
hand-written query can rewrite history.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import Index, String, Text, event, or_
from sqlalchemy.orm import Mapped, Session, mapped_column

from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class AccessLogEntry(db.Model):
    """Who opened which patient's data, when, from where and why."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_patient_at", "patient_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # No foreign keys with cascades: a log entry must outlive the rows it names.
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[int | None] = mapped_column()
    # A list page shows many patients: their ids as ",3,17,42," (one row per request,
    # found by a patient's extract with LIKE '%,17,%').
    patient_ids: Mapped[str | None] = mapped_column(Text)
    enrolment_id: Mapped[int | None] = mapped_column()
    # What was done, e.g. "enrolment.view", "answers.view", "auth.login".
    action: Mapped[str] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(500))


def concerns_patient(patient_id: int):
    """SQL condition: the entry names this patient, alone or among those a list showed."""
    return or_(AccessLogEntry.patient_id == patient_id, AccessLogEntry.patient_ids.contains(f",{int(patient_id)},"))


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete an access-log row."""


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AccessLogEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyError("the access log is append-only")


def log_access(actor, action: str, *, patient_id=None, enrolment_id=None, detail=None,
               patient_ids: Iterable[int] = ()) -> None:
    """Add an access-log row to the current transaction (committed with the request).

    ``patient_ids``: every patient a list or export showed, in the same one row.
    """
    ip = request.remote_addr if has_request_context() else None
    shown = sorted({int(n) for n in patient_ids})
    db.session.add(
        AccessLogEntry(
            actor_id=getattr(actor, "id", None),
            actor_role=getattr(actor, "role", "system"),
            patient_id=patient_id,
            patient_ids=f",{','.join(map(str, shown))}," if shown else None,
            enrolment_id=enrolment_id,
            action=action,
            ip_address=ip,
            detail=detail[:500] if detail else None,
        )
    )


security_log = logging.getLogger("lotsa.security")


def security_event(kind: str, user=None, detail: str | None = None) -> None:
    """A security event: in the access log (``security.<kind>``) and as a log line.

    The log line names the user by id and role only: no e-mail address, name or
    identity number, so logs can be kept and shipped without personal data. The
    detail (what was searched for, say) may hold such data and so stays in the
    access log, which only administrators read.
    """
    log_access(user, f"security.{kind}", detail=detail)
    ip = request.remote_addr if has_request_context() else None
    security_log.info("security event=%s user_id=%s role=%s ip=%s", kind, getattr(user, "id", None),
                      getattr(user, "role", None), ip)


# SQL run by the first migration so the database itself refuses UPDATE and DELETE
# (0010 adds TRUNCATE on PostgreSQL).
SQLITE_TRIGGERS = [
    """CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
       BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END""",
    """CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
       BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END""",
]
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION access_log_refuse_change() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'access_log is append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log
       FOR EACH ROW EXECUTE FUNCTION access_log_refuse_change()""",
]
