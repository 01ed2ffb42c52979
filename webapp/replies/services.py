"""Replies to the referring unit: saved as numbered versions, read by the care team and the patient.

What goes into a new reply (modules, scores, plan, contacts) is gathered by the
clinician's pages, which see every feature; this package only keeps the text.
"""

from __future__ import annotations

import json

from sqlalchemy import bindparam, func, select

from webapp.core.queries import Bound
from webapp.extensions import db
from webapp.programme.enrolments import add_event
from webapp.replies.models import ReferralReply

# The reply's sections, in the order they are written and printed.
SECTIONS = ("done", "questionnaires", "plan", "recommendations")
MAX_TEXT = 10_000
MAX_RECIPIENT = 300


class ReplyProblems(Exception):
    """A reply that cannot be saved: {field: problem code}."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(", ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def clean(recipient: str, sections: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The recipient and sections as stored (trimmed, Windows line ends gone), or ReplyProblems."""
    problems = {}
    recipient = " ".join((recipient or "").split())
    if len(recipient) > MAX_RECIPIENT:
        problems["recipient"] = "too_long"
    cleaned = {}
    for key in SECTIONS:
        text = (sections.get(key) or "").replace("\r\n", "\n").strip()
        if len(text) > MAX_TEXT:
            problems[key] = "too_long"
        cleaned[key] = text
    if not cleaned["recommendations"]:
        problems["recommendations"] = "empty"
    if problems:
        raise ReplyProblems(problems)
    return recipient, cleaned


def save(enrolment, actor, locale: str, recipient: str, sections: dict[str, str]) -> ReferralReply:
    """A new version of the enrolment's reply (earlier versions are kept as they were)."""
    recipient, cleaned = clean(recipient, sections)
    number = (db.session.scalar(select(func.max(ReferralReply.number))
                                .where(ReferralReply.enrolment_id == enrolment.id)) or 0) + 1
    reply = ReferralReply(enrolment_id=enrolment.id, number=number, locale=locale, recipient=recipient,
                          content=json.dumps(cleaned, ensure_ascii=False), created_by_id=actor.id)
    db.session.add(reply)
    db.session.flush()
    add_event(enrolment, actor, "reply_saved", f"version {number}")
    return reply


def versions(enrolment) -> list[ReferralReply]:
    """Every saved version of the enrolment's reply, newest first."""
    return list(db.session.scalars(select(ReferralReply).where(ReferralReply.enrolment_id == enrolment.id)
                                   .order_by(ReferralReply.number.desc())))


def get_version(enrolment, number: int) -> ReferralReply | None:
    return db.session.scalar(select(ReferralReply).where(ReferralReply.enrolment_id == enrolment.id,
                                                         ReferralReply.number == number))


_NEWEST = (select(ReferralReply.enrolment_id, func.max(ReferralReply.number).label("number"))
           .where(ReferralReply.enrolment_id.in_(bindparam("reply_ids", expanding=True)))
           .group_by(ReferralReply.enrolment_id).subquery())
_LATEST = select(ReferralReply).join(
    _NEWEST, (_NEWEST.c.enrolment_id == ReferralReply.enrolment_id) & (_NEWEST.c.number == ReferralReply.number))


def latest_query(enrolment_ids: list[int]) -> Bound | None:
    """The query of ``latest_for`` (None: no enrolments to ask about)."""
    if not enrolment_ids:
        return None
    return Bound(_LATEST, {"reply_ids": list(enrolment_ids)})


def latest_for(enrolment_ids: list[int]) -> dict[int, ReferralReply]:
    """The newest reply of each enrolment that has one, in one query."""
    query = latest_query(enrolment_ids)
    if query is None:
        return {}
    return {reply.enrolment_id: reply for reply in db.session.scalars(query.statement, query.params)}


def content_of(reply: ReferralReply | None) -> dict[str, str]:
    """A version's sections, every section present."""
    stored = json.loads(reply.content) if reply is not None else {}
    return {key: stored.get(key, "") for key in SECTIONS}
