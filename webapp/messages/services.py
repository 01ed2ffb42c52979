"""Messages: posting, reading, the care team's inbox and unread counts.

Messages tell notifications *what* happened; notifications decide who is told
and how (``messages`` may call ``notifications``, never the reverse).
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from webapp.core.db import utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.messages.models import Conversation, Message
from webapp.notifications.services import Kind, notify, notify_user
from webapp.programme.enrolments import sender_of
from webapp.programme.models import Enrolment

MAX_LENGTH = 5_000
URL_RE = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)


class MessageError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def render_body(body: str) -> Markup:
    """Plain text as HTML: everything escaped, line breaks kept, http(s) links clickable."""
    parts, last = [], 0
    for match in URL_RE.finditer(body):
        parts.append(escape(body[last:match.start()]))
        url = match.group(0)
        parts.append(Markup('<a href="{0}" rel="noopener noreferrer nofollow">{0}</a>').format(url))
        last = match.end()
    parts.append(escape(body[last:]))
    return Markup("").join(parts).replace("\n", Markup("<br>\n"))


def clean_body(raw: str | None) -> str:
    body = (raw or "").replace("\r\n", "\n").replace("\x00", "").strip()
    if not body:
        raise MessageError("empty")
    if len(body) > MAX_LENGTH:
        raise MessageError("too_long")
    return body


def _conversation(enrolment_id: int) -> Conversation:
    conversation = db.session.get(Conversation, enrolment_id, with_for_update=True)
    if conversation is None:
        conversation = Conversation(enrolment_id=enrolment_id, unread_for_patient=0, unread_for_staff=0)
        db.session.add(conversation)
    return conversation


def thread(enrolment: Enrolment) -> list[Message]:
    return list(db.session.scalars(
        select(Message).options(joinedload(Message.author), joinedload(Message.read_by))
        .where(Message.enrolment_id == enrolment.id).order_by(Message.created_at, Message.id)))


def post_as_patient(enrolment: Enrolment, patient, raw: str) -> Message:
    """The patient writes to the care team; the responsible clinician is told."""
    if not enrolment.has_access:
        raise MessageError("closed")
    body = clean_body(raw)
    now = utcnow()
    message = Message(enrolment_id=enrolment.id, author_id=patient.id, side="patient", body=body, created_at=now)
    db.session.add(message)
    conversation = _conversation(enrolment.id)
    conversation.last_message_at = now
    conversation.unread_for_staff = (conversation.unread_for_staff or 0) + 1
    conversation.waiting_since = conversation.waiting_since or now
    if enrolment.responsible_clinician is not None:
        notify(enrolment.responsible_clinician, Kind.NEW_MESSAGE_STAFF,
               {"url": external_url("messages.staff_thread", enrolment_id=enrolment.id),
                **sender_of(enrolment, to_patient=False)})
    return message


def post_as_staff(enrolment: Enrolment, staff, raw: str) -> Message:
    """A clinician of the care unit answers; the patient is told on the channels they chose."""
    if not enrolment.is_open:
        raise MessageError("closed")
    body = clean_body(raw)
    now = utcnow()
    message = Message(enrolment_id=enrolment.id, author_id=staff.id, side="staff", body=body, created_at=now)
    db.session.add(message)
    conversation = _conversation(enrolment.id)
    conversation.last_message_at = now
    conversation.unread_for_patient = (conversation.unread_for_patient or 0) + 1
    conversation.waiting_since = None  # answered
    notify_user(enrolment.patient, Kind.NEW_MESSAGE, {"url": external_url("auth.login"), **sender_of(enrolment)})
    return message


def mark_read(enrolment: Enrolment, reader, side_read: str) -> None:
    """Mark the other side's messages as read by ``reader``."""
    now = utcnow()
    result = db.session.execute(
        update(Message).where(Message.enrolment_id == enrolment.id, Message.side == side_read,
                              Message.read_at.is_(None))
        .values(read_at=now, read_by_id=reader.id).execution_options(synchronize_session=False))
    if result.rowcount:
        conversation = _conversation(enrolment.id)
        if side_read == "patient":
            conversation.unread_for_staff = 0
        else:
            conversation.unread_for_patient = 0


def mark_handled(enrolment: Enrolment) -> None:
    """The care team has dealt with the conversation without writing back."""
    conversation = db.session.get(Conversation, enrolment.id)
    if conversation is not None:
        conversation.waiting_since = None


def inbox(clinician, unit_ids_query) -> list[tuple[Enrolment, Conversation]]:
    """Conversations waiting for the care team in the clinician's units, oldest first."""
    return [tuple(row) for row in db.session.execute(
        select(Enrolment, Conversation).join(Conversation, Conversation.enrolment_id == Enrolment.id)
        .options(joinedload(Enrolment.patient), joinedload(Enrolment.responsible_clinician))
        .where(Enrolment.care_unit_id.in_(unit_ids_query), Conversation.waiting_since.is_not(None),
               Enrolment.is_open)
        .order_by(Conversation.waiting_since))]


def unread_for_patient(patient) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(Conversation.unread_for_patient), 0))
        .join(Enrolment, Enrolment.id == Conversation.enrolment_id)
        .where(Enrolment.patient_id == patient.id, Enrolment.is_open)) or 0


def waiting_for_staff(clinician, unit_ids_query) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Conversation).join(Enrolment, Enrolment.id == Conversation.enrolment_id)
        .where(Enrolment.care_unit_id.in_(unit_ids_query), Conversation.waiting_since.is_not(None),
               Enrolment.is_open)) or 0


def conversations_for(enrolment_ids: list[int]) -> dict[int, Conversation]:
    if not enrolment_ids:
        return {}
    return {c.enrolment_id: c for c in db.session.scalars(
        select(Conversation).where(Conversation.enrolment_id.in_(enrolment_ids)))}
