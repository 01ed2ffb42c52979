"""Messages: posting, reading, the care team's inbox and unread counts.

Messages tell notifications *what* happened; notifications decide who is told
and how (``messages`` may call ``notifications``, never the reverse).
"""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup, escape
from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.orm import joinedload

from webapp.auth.models import Membership
from webapp.content.services import get_catalogue
from webapp.core.db import UTCDateTime, utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.messages.defaults import BUILT_IN, built_in
from webapp.messages.models import Conversation, Message, MessageTemplate
from webapp.notifications.services import Kind, notify, notify_user
from webapp.programme.enrolments import sender_of
from webapp.programme.models import Answer, Enrolment, ModuleProgress
from webapp.programme.services import schedule_for

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


# The thread's statements are built once and reused with bound parameters (issue 25):
# building a statement and its cache key cost more than running it.
_THREAD = (select(Message).options(joinedload(Message.author), joinedload(Message.read_by))
           .where(Message.enrolment_id == bindparam("enrolment_id")).order_by(Message.created_at, Message.id))
_MARK_READ = (update(Message).where(Message.enrolment_id == bindparam("b_enrolment_id"),
                                    Message.side == bindparam("b_side"), Message.read_at.is_(None))
              .values(read_at=bindparam("b_now", type_=UTCDateTime()), read_by_id=bindparam("b_reader_id"))
              .execution_options(synchronize_session=False))


def thread(enrolment: Enrolment) -> list[Message]:
    return list(db.session.scalars(_THREAD, {"enrolment_id": enrolment.id}))


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


def mark_read(enrolment: Enrolment, reader, side_read: str) -> bool:
    """Mark the other side's messages as read by ``reader``; True if there were any."""
    result = db.session.execute(_MARK_READ, {"b_enrolment_id": enrolment.id, "b_side": side_read, "b_now": utcnow(),
                                             "b_reader_id": reader.id})
    if result.rowcount:
        conversation = _conversation(enrolment.id)
        if side_read == "patient":
            conversation.unread_for_staff = 0
        else:
            conversation.unread_for_patient = 0
    return bool(result.rowcount)


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


def _unread_for_patient(patient_id):
    return (select(func.coalesce(func.sum(Conversation.unread_for_patient), 0))
            .join(Enrolment, Enrolment.id == Conversation.enrolment_id)
            .where(Enrolment.patient_id == patient_id, Enrolment.is_open))


def _waiting_for_staff(unit_ids_query):
    return (select(func.count()).select_from(Enrolment)
            .where(Enrolment.care_unit_id.in_(unit_ids_query), Enrolment.waiting_since.is_not(None),
                   Enrolment.is_open))


def unread_for_patient(patient) -> int:
    return db.session.scalar(_unread_for_patient(patient.id)) or 0


def waiting_for_staff(clinician, unit_ids_query) -> int:
    return db.session.scalar(_waiting_for_staff(unit_ids_query)) or 0


def unread_for_patient_column(user_id_column):
    """unread_for_patient() as a column of a statement that has the user's id (the session's)."""
    return _unread_for_patient(user_id_column).scalar_subquery()


def waiting_for_staff_column(user_id_column):
    """waiting_for_staff() as a column of a statement that has the clinician's id (the session's).

    One level of subquery, joined to the memberships: a nested ``IN (SELECT ...)``
    would not correlate with the session's row two levels up, and would count the
    units of every logged-in user (and scan every enrolment to do it). The
    enrolment's copy of its conversation's waiting_since (kept by triggers,
    migration 0023) lets the count read the units' waiting enrolments from
    their own index rather than every enrolment's conversation.
    """
    return (select(func.count()).select_from(Enrolment)
            .join(Membership, Membership.care_unit_id == Enrolment.care_unit_id)
            .where(Membership.user_id == user_id_column, Enrolment.waiting_since.is_not(None), Enrolment.is_open)
            .scalar_subquery())


_CONVERSATIONS = select(Conversation).where(Conversation.enrolment_id.in_(bindparam("ids", expanding=True)))


def conversations_for(enrolment_ids: list[int]) -> dict[int, Conversation]:
    if not enrolment_ids:
        return {}
    return {c.enrolment_id: c for c in db.session.scalars(_CONVERSATIONS, {"ids": list(enrolment_ids)})}


# --- waiting for feedback ------------------------------------------------------------


def _last_staff_message():
    return (select(func.max(Message.created_at))
            .where(Message.enrolment_id == Enrolment.id, Message.side == "staff")
            .correlate(Enrolment).scalar_subquery())


def waiting_for_feedback(unit_ids_query) -> list[tuple[Enrolment, object]]:
    """Enrolments whose patient saved answers or finished a module after the care team last wrote.

    One query: (enrolment, time of the last staff message or None), patient loaded.
    """
    last_staff = _last_staff_message()
    answered = exists(select(Answer.id).where(
        Answer.enrolment_id == Enrolment.id, Answer.version > 0,
        or_(last_staff.is_(None), Answer.updated_at > last_staff)).correlate(Enrolment))
    finished = exists(select(ModuleProgress.id).where(
        ModuleProgress.enrolment_id == Enrolment.id, ModuleProgress.completed_at.is_not(None),
        or_(last_staff.is_(None), ModuleProgress.completed_at > last_staff)).correlate(Enrolment))
    return [tuple(row) for row in db.session.execute(
        select(Enrolment, last_staff.label("last_feedback_at"))
        .options(joinedload(Enrolment.patient), joinedload(Enrolment.responsible_clinician))
        .where(Enrolment.care_unit_id.in_(unit_ids_query), Enrolment.has_access, or_(answered, finished))
        .order_by(Enrolment.id))]


# --- templates -----------------------------------------------------------------------

# The placeholders a template may hold, by the Swedish names clinicians write
# (the English names and the spellings without å/ä/ö are accepted too).
PLACEHOLDERS = {"förnamn": "first_name", "modul": "module", "behandlare": "clinician", "vårdenhet": "care_unit"}
_ALIASES = {**PLACEHOLDERS, "fornamn": "first_name", "vardenhet": "care_unit",
            **{english: english for english in PLACEHOLDERS.values()}}
_PLACEHOLDER_RE = re.compile(r"\{\s*(\w+)\s*\}")
TEMPLATE_KINDS = ("welcome", "feedback", "reminder", "closing", "other")
TEMPLATE_NAME_MAX = 100


def fill_placeholders(body: str, values: dict[str, str]) -> str:
    """The template with its placeholders filled in, as plain text.

    Only the known names are replaced, by plain substitution (never str.format,
    which would let a template reach into objects); anything else in braces
    stays as written. The result is a message body: it is escaped wherever it
    is shown (render_body, or the textarea it is inserted into).
    """
    body = unicodedata.normalize("NFC", body)

    def replace(match: re.Match) -> str:
        key = _ALIASES.get(match.group(1).lower())
        return values.get(key, match.group(0)) if key else match.group(0)

    return _PLACEHOLDER_RE.sub(replace, body)


def preview_html(body: str, values: dict[str, str]) -> Markup:
    """The filled-in template as HTML: the text and everything inserted into it escaped."""
    return render_body(fill_placeholders(body, values))


def placeholder_values(enrolment: Enrolment, sender, module_title: str = "") -> dict[str, str]:
    """What the placeholders stand for in a message to this enrolment's patient."""
    name = (enrolment.patient.full_name or "").split()
    return {"first_name": name[0] if name else "", "module": module_title,
            "clinician": sender.full_name or "", "care_unit": enrolment.care_unit.name}


def visible_templates(user, unit_ids: list[int]) -> list[MessageTemplate]:
    """The stored templates a clinician may use and change: their units' shared ones and their own."""
    return list(db.session.scalars(
        select(MessageTemplate).where(or_(
            (MessageTemplate.care_unit_id.in_(unit_ids)) & MessageTemplate.owner_id.is_(None),
            MessageTemplate.owner_id == user.id))
        .order_by(MessageTemplate.locale, MessageTemplate.kind, MessageTemplate.name, MessageTemplate.id)))


def get_template(template_id: int, user, unit_ids: list[int]) -> MessageTemplate | None:
    """One template the clinician may change, or None (the view answers 404)."""
    template = db.session.get(MessageTemplate, template_id)
    if template is None:
        return None
    if template.owner_id is not None:
        return template if template.owner_id == user.id else None
    return template if template.care_unit_id in unit_ids else None


def template_choices(user, enrolment: Enrolment, labels: dict[str, str]) -> list[tuple[str, str]]:
    """Templates to offer when writing to this patient: those in the patient's language first.

    Values are "b-<kind>" for a built-in text and "t-<id>" for a stored one.
    ``labels`` names the groups (built in, unit, personal, other language).
    """
    locale = enrolment.patient.locale
    stored = [t for t in visible_templates(user, [enrolment.care_unit_id])
              if t.owner_id is not None or t.care_unit_id == enrolment.care_unit_id]
    stored.sort(key=lambda t: (t.locale != locale, t.owner_id is None, t.name.casefold()))
    choices = [(f"t-{t.id}", f"{t.name} ({labels['mine'] if t.owner_id else labels['unit']}"
                + (f", {t.locale})" if t.locale != locale else ")")) for t in stored]
    choices += [(f"b-{kind}", f"{built_in(kind, locale)[0]} ({labels['built_in']})") for kind in BUILT_IN]
    return choices


def resolve_template(value: str | None, user, enrolment: Enrolment) -> str | None:
    """The body of the chosen template, in the patient's language for a built-in one; None if not allowed."""
    value = value or ""
    if value.startswith("b-"):
        found = built_in(value[2:], enrolment.patient.locale)
        return found[1] if found else None
    if value.startswith("t-") and value[2:].isascii() and value[2:].isdigit() and len(value) < 20:
        template = get_template(int(value[2:]), user, [enrolment.care_unit_id])
        return template.body if template is not None else None
    return None


def current_module_title(enrolment: Enrolment) -> str:
    """The {modul} placeholder: the latest open module of the patient's plan, in the patient's language."""
    programme = get_catalogue().programmes.get(enrolment.programme_id)
    if programme is None:
        return ""
    opened = [s for s in schedule_for(enrolment, programme) if s.is_open]
    return opened[-1].module.version(enrolment.patient.locale)[0].title if opened else ""


def filled_template(value: str | None, user, enrolment: Enrolment) -> str | None:
    """The chosen template with its placeholders filled in for this patient; None if it may not be used."""
    body = resolve_template(value, user, enrolment)
    if body is None:
        return None
    return fill_placeholders(body, placeholder_values(enrolment, user, current_module_title(enrolment)))


def insert_template(current: str | None, filled: str) -> str:
    """The textarea after "Insert": the template alone, or after what was already written."""
    current = (current or "").rstrip()
    return f"{current}\n\n{filled}" if current else filled


def save_template(template: MessageTemplate | None, user, unit_id: int, *, kind: str, locale: str, name: str,
                  body: str, personal: bool) -> MessageTemplate:
    """Create or change a template; raise MessageError for an empty or too long text."""
    name = (name or "").strip()
    if not name:
        raise MessageError("template_name")
    if len(name) > TEMPLATE_NAME_MAX:
        raise MessageError("template_name_long")
    body = clean_body(body)
    if template is None:
        template = MessageTemplate(care_unit_id=unit_id)
        db.session.add(template)
    template.owner_id = user.id if personal else None
    template.care_unit_id = unit_id
    template.kind = kind if kind in TEMPLATE_KINDS else "other"
    template.locale, template.name, template.body, template.updated_at = locale, name, body, utcnow()
    return template


def delete_template(template: MessageTemplate) -> None:
    db.session.delete(template)


def seed_unit_templates(unit_id: int, locales=("sv", "en", "ar", "fa")) -> int:
    """Copy the shipped templates into a care unit (the demo seed); returns how many were added."""
    added = 0
    for kind, texts in BUILT_IN.items():
        for locale in locales:
            if locale in texts:
                name, body = texts[locale]
                db.session.add(MessageTemplate(care_unit_id=unit_id, kind=kind, locale=locale, name=name, body=body))
                added += 1
    return added
