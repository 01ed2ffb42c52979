"""The patient's data rights: everything Lotsa holds about a patient, erasure of
app-only data, and the retention of record-relevant data.

What is kept, why and for how long is described in docs/privacy.md.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from webapp.account.models import ContactChange, Onboarding
from webapp.auth.models import AuthToken, Passkey, User, UserSession
from webapp.auth.signals import personal_data_requested
from webapp.careplan.models import CarePlan, CarePlanVersion, FollowUpContact
from webapp.core.audit import AccessLogEntry, concerns_patient
from webapp.core.db import utcnow
from webapp.extensions import db
from webapp.groups.models import GroupMember
from webapp.library.models import SharedInformation
from webapp.messages.models import Conversation, Message
from webapp.notifications.models import NotificationConsent, OutboxItem
from webapp.programme.models import (
    Answer,
    AnswerVersion,
    DiaryEntry,
    DiaryEntryVersion,
    Enrolment,
    EnrolmentEvent,
    ModuleProgress,
    ScheduleEntry,
)
from webapp.questionnaires.models import Dispatch, SafetyAlert, Submission
from webapp.replies.models import ReferralReply

# Never part of an export: secrets that would let someone log in as the patient.
SECRET_COLUMNS = {"password_hash", "totp_secret", "totp_last_step", "phone_code_hash", "phone_code_expires_at",
                  "token_hash", "secret_hash", "draft"}
# Nor the authenticator's bytes of a passkey: they mean nothing to a reader (when it was made and used is shown).
TECHNICAL_COLUMNS = {"credential_id", "public_key", "sign_count"}

# Tables that refer to a patient or an enrolment and are not in the export, each with why
# (tests/privacy checks that every other such table is read by ``collect``).
NOT_EXPORTED = {
    # Bandit B105: a table's name and why it is left out, not a password.
    "auth_token": "single-use links (invitation, password reset): secrets, erased with the app data",  # nosec B105
    "conversation": "the thread's unread counts; its messages are exported",
    "enrolment_visit": "when a clinician last opened the enrolment, to mark what is new: the access log says it",
    "registration_code": "a single-use code a unit hands out: a secret, and the unit's record",
    # Rows that refer to a staff member, never to a patient.
    "membership": "staff", "message_template": "staff", "patient_group": "staff", "questionnaire_round": "staff",
    "referral_offer": "staff", "content_draft": "staff", "content_release": "staff", "content_revision": "staff",
}


def _row(obj) -> dict:
    result = {}
    for column in obj.__table__.columns:
        if column.name in SECRET_COLUMNS or column.name in TECHNICAL_COLUMNS:
            continue
        value = getattr(obj, column.key)
        result[column.name] = value.isoformat() if isinstance(value, (datetime, date)) else value
    return result


def _all(query) -> list[dict]:
    return [_row(obj) for obj in db.session.scalars(query)]


def collect(patient: User) -> dict:
    """Everything Lotsa holds about the patient, as plain data (for JSON and the readable copy)."""
    enrolment_ids = select(Enrolment.id).where(Enrolment.patient_id == patient.id)
    answer_ids = select(Answer.id).where(Answer.enrolment_id.in_(enrolment_ids))
    plan_ids = select(CarePlan.id).where(CarePlan.enrolment_id.in_(enrolment_ids))
    entry_ids = select(DiaryEntry.id).where(DiaryEntry.enrolment_id.in_(enrolment_ids))
    data = {
        "exported_at": utcnow().isoformat(),
        "account": _row(patient),
        "passkeys": _all(select(Passkey).where(Passkey.user_id == patient.id).order_by(Passkey.id)),
        "notification_choices": _all(select(NotificationConsent).where(NotificationConsent.user_id == patient.id)),
        "sessions": _all(select(UserSession).where(UserSession.user_id == patient.id)),
        "contact_changes": _all(select(ContactChange).where(ContactChange.user_id == patient.id)),
        "onboarding": _all(select(Onboarding).where(Onboarding.user_id == patient.id)),
        "enrolments": _all(select(Enrolment).where(Enrolment.patient_id == patient.id)),
        "enrolment_history": _all(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id.in_(enrolment_ids))),
        "schedule": _all(select(ScheduleEntry).where(ScheduleEntry.enrolment_id.in_(enrolment_ids))),
        "module_progress": _all(select(ModuleProgress).where(ModuleProgress.enrolment_id.in_(enrolment_ids))),
        "answers": _all(select(Answer).where(Answer.enrolment_id.in_(enrolment_ids))),
        "answer_versions": _all(select(AnswerVersion).where(AnswerVersion.answer_id.in_(answer_ids))),
        "diary_entries": _all(select(DiaryEntry).where(DiaryEntry.enrolment_id.in_(enrolment_ids))
                              .order_by(DiaryEntry.block_id, DiaryEntry.day)),
        "diary_entry_versions": _all(select(DiaryEntryVersion).where(DiaryEntryVersion.entry_id.in_(entry_ids))
                                     .order_by(DiaryEntryVersion.id)),
        "messages": _all(select(Message).where(Message.enrolment_id.in_(enrolment_ids)).order_by(Message.created_at)),
        "questionnaires_sent": _all(select(Dispatch).where(Dispatch.enrolment_id.in_(enrolment_ids))),
        "questionnaire_answers": _all(select(Submission).where(Submission.enrolment_id.in_(enrolment_ids))),
        "safety_alerts": _all(select(SafetyAlert).where(SafetyAlert.enrolment_id.in_(enrolment_ids))),
        "care_plans": _all(select(CarePlanVersion).where(CarePlanVersion.plan_id.in_(plan_ids))),
        "follow_up_contacts": _all(select(FollowUpContact).where(FollowUpContact.enrolment_id.in_(enrolment_ids))),
        "groups": _all(select(GroupMember).where(GroupMember.enrolment_id.in_(enrolment_ids))),
        "information_sent": _all(select(SharedInformation).where(SharedInformation.enrolment_id.in_(enrolment_ids))),
        "replies_to_referrer": _all(select(ReferralReply).where(ReferralReply.enrolment_id.in_(enrolment_ids))
                                    .order_by(ReferralReply.enrolment_id, ReferralReply.number)),
        "notifications_sent": _all(select(OutboxItem).where(OutboxItem.user_id == patient.id)),
        # Who in the care team has looked at the patient's data (a "logutdrag").
        "access_log": _access_extract(patient),
    }
    # What the features above this one hold (self-referral), through the signal.
    for _receiver, sections in personal_data_requested.send(patient):
        data.update({name: [_row(obj) for obj in rows] for name, rows in sections.items()})
    return data


def _access_extract(patient: User) -> list[dict]:
    """The patient's access-log extract: when, who (name and role) and what, nothing more.

    Staff members' ids and network addresses are the staff's personal data, not
    the patient's, and stay in the log for the administrators.
    """
    rows = db.session.execute(
        select(AccessLogEntry, User.full_name).outerjoin(User, User.id == AccessLogEntry.actor_id)
        .where(concerns_patient(patient.id)).order_by(AccessLogEntry.at, AccessLogEntry.id))
    return [{"at": entry.at.isoformat(), "who": name,
             "role": entry.actor_role, "action": entry.action, "enrolment_id": entry.enrolment_id}
            for entry, name in rows]


def erase_app_data(patient: User) -> dict[str, int]:
    """Erase what only the app needs: preferences, sessions, pending notifications, contact details.

    Record-relevant data (answers, messages, scores, plans) stays until the
    retention period has passed (see :func:`purge_expired_records`). The e-mail
    address is replaced, so the account cannot be logged in to, once no
    enrolment is open.
    """
    counts = {
        "notification_choices": db.session.execute(
            delete(NotificationConsent).where(NotificationConsent.user_id == patient.id)).rowcount,
        "pending_notifications": db.session.execute(
            delete(OutboxItem).where(OutboxItem.user_id == patient.id, OutboxItem.status == "pending")).rowcount,
        "sessions": db.session.execute(delete(UserSession).where(UserSession.user_id == patient.id)).rowcount,
        "links": db.session.execute(delete(AuthToken).where(AuthToken.user_id == patient.id)).rowcount,
        "contact_changes": db.session.execute(
            delete(ContactChange).where(ContactChange.user_id == patient.id)).rowcount,
    }
    patient.phone = None
    patient.phone_verified_at = None
    patient.phone_code_hash = None
    patient.phone_code_expires_at = None
    has_open = db.session.scalar(select(Enrolment.id).where(
        Enrolment.patient_id == patient.id, Enrolment.is_open).limit(1))
    if has_open is None:
        # Contact details are no longer needed: nobody is writing to this patient any more.
        patient.email = f"erased-{patient.id}@erased.invalid"
        patient.password_hash = None
        patient.totp_secret = None
        patient.is_active_account = False
        counts["contact_details"] = 1
    return counts


def purge_expired_records(now: datetime | None = None) -> int:
    """Delete record-relevant data of enrolments closed longer ago than the retention period.

    The access log is kept (it is the proof of who looked); enrolments are
    deleted with everything that hangs on them.
    """
    now = now or utcnow()
    years = current_app.config["RECORD_RETENTION_YEARS"]
    cutoff = now - timedelta(days=round(365.25 * years))
    expired = list(db.session.scalars(select(Enrolment.id).where(
        ~Enrolment.is_open, Enrolment.closed_at < cutoff)))
    if not expired:
        return 0
    answer_ids = select(Answer.id).where(Answer.enrolment_id.in_(expired))
    db.session.execute(delete(AnswerVersion).where(AnswerVersion.answer_id.in_(answer_ids)))
    entry_ids = select(DiaryEntry.id).where(DiaryEntry.enrolment_id.in_(expired))
    db.session.execute(delete(DiaryEntryVersion).where(DiaryEntryVersion.entry_id.in_(entry_ids)))
    for model in (Answer, DiaryEntry, Message, Conversation, SafetyAlert, Submission, Dispatch, FollowUpContact, GroupMember, ScheduleEntry,
                  ModuleProgress, EnrolmentEvent):
        db.session.execute(delete(model).where(model.enrolment_id.in_(expired)))
    plan_ids = select(CarePlan.id).where(CarePlan.enrolment_id.in_(expired))
    db.session.execute(delete(CarePlanVersion).where(CarePlanVersion.plan_id.in_(plan_ids)))
    db.session.execute(delete(CarePlan).where(CarePlan.enrolment_id.in_(expired)))
    db.session.execute(delete(Enrolment).where(Enrolment.id.in_(expired)))
    return len(expired)
