"""Self-referral: a unit's open programmes, a resident's request with its screening, the unit's answer.

A request is an enrolment in the status "referred" with a Referral beside it.
The screening questionnaires are dispatches of that enrolment (purpose
"screening"), answered and scored like any other, so a safety answer opens a
SafetyAlert for the unit at once (``questionnaires.services.submit``). The
clinician's answer opens access (``programme.enrolments.open_referred``), asks
for a visit, or declines. Views own the commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp.auth.models import CareUnit, User
from webapp.auth.services import unit_ids_subquery
from webapp.content.services import get_catalogue
from webapp.core.db import utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.services import Kind, notify
from webapp.programme.enrolments import add_event, open_referred, patient_channels, sender_of
from webapp.programme.models import Enrolment, EnrolmentStatus
from webapp.questionnaires.models import Dispatch, SafetyAlert, Submission
from webapp.referrals.models import Referral, ReferralOffer

STATUS_LABELS = {
    "screening": _l("Not sent yet"),
    "waiting": _l("Waiting for the care unit"),
    "visit": _l("The care unit wants to see you"),
    "accepted": _l("Accepted"),
    "declined": _l("Not accepted"),
}
# What the triage list shows: sent requests the unit has not finished with.
TRIAGE_STATUSES = ("waiting", "visit")
MESSAGE_MAX = 2000


class ReferralError(Exception):
    """A step that cannot be taken; ``code`` picks the message."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# --- the unit's settings ---------------------------------------------------------------


def offers_of_units(unit_ids_query) -> list[ReferralOffer]:
    """Every offer of the given units, by unit and programme."""
    return list(db.session.scalars(
        select(ReferralOffer).options(joinedload(ReferralOffer.care_unit))
        .where(ReferralOffer.care_unit_id.in_(unit_ids_query))
        .order_by(ReferralOffer.care_unit_id, ReferralOffer.programme_id)))


def save_offer(unit: CareUnit, programme_id: str, form_ids: list[str], is_open: bool, actor: User) -> ReferralOffer:
    """Create or change the unit's offer of one programme."""
    offer = db.session.scalar(select(ReferralOffer).where(
        ReferralOffer.care_unit_id == unit.id, ReferralOffer.programme_id == programme_id))
    if offer is None:
        offer = ReferralOffer(care_unit_id=unit.id, programme_id=programme_id)
        db.session.add(offer)
    offer.screening_forms = ",".join(form_ids)
    offer.is_open = is_open
    offer.updated_at = utcnow()
    offer.updated_by_id = actor.id
    return offer


def screening_choices() -> list:
    """Questionnaires a unit can use for screening: those whose texts Lotsa has (not licence skeletons)."""
    return [form for form in get_catalogue().forms.values() if form.has_text]


# --- the resident ------------------------------------------------------------------------


def open_offers() -> list[ReferralOffer]:
    """Programmes residents may ask to start now, of programmes that exist."""
    programmes = get_catalogue().programmes
    return [o for o in db.session.scalars(
        select(ReferralOffer).options(joinedload(ReferralOffer.care_unit))
        .where(ReferralOffer.is_open.is_(True)).order_by(ReferralOffer.care_unit_id, ReferralOffer.programme_id))
        if o.programme_id in programmes]


def load_open_offer(offer_id: int) -> ReferralOffer:
    """An open offer of an existing programme, else 404 (closed ones are not shown either)."""
    offer = db.session.get(ReferralOffer, offer_id)
    if offer is None or not offer.is_open or offer.programme_id not in get_catalogue().programmes:
        abort(404)
    return offer


def referrals_of(resident: User) -> list[Referral]:
    """The resident's own requests, newest first."""
    return list(db.session.scalars(
        select(Referral).join(Enrolment, Enrolment.id == Referral.enrolment_id)
        .options(joinedload(Referral.enrolment).joinedload(Enrolment.care_unit))
        .where(Enrolment.patient_id == resident.id).order_by(Referral.created_at.desc(), Referral.id.desc())))


def load_referral_for_resident(referral_id: int, resident: User) -> Referral:
    """The resident's own request, else 404."""
    referral = db.session.scalar(
        select(Referral).join(Enrolment, Enrolment.id == Referral.enrolment_id)
        .options(joinedload(Referral.enrolment).joinedload(Enrolment.care_unit))
        .where(Referral.id == referral_id, Enrolment.patient_id == resident.id))
    if referral is None:
        abort(404)
    return referral


def start(offer: ReferralOffer, resident: User) -> Referral:
    """Begin a request: the waiting enrolment and one screening dispatch per questionnaire.

    A resident with a request or an enrolment of this programme still going gets that one back.
    """
    current = db.session.scalar(
        select(Referral).join(Enrolment, Enrolment.id == Referral.enrolment_id)
        .where(Enrolment.patient_id == resident.id, Enrolment.programme_id == offer.programme_id,
               Referral.status.in_(("screening", *TRIAGE_STATUSES))))
    if current is not None:
        return current
    if db.session.scalar(select(Enrolment.id).where(
            Enrolment.patient_id == resident.id, Enrolment.programme_id == offer.programme_id, Enrolment.is_open)):
        raise ReferralError("already_open")
    programme = get_catalogue().programmes[offer.programme_id]
    now = utcnow()
    enrolment = Enrolment(patient=resident, programme_id=offer.programme_id, care_unit_id=offer.care_unit_id,
                          status=EnrolmentStatus.REFERRED.value, recommended_days=programme.recommended_days,
                          welcome_text="", created_at=now)
    db.session.add(enrolment)
    db.session.flush()
    forms = get_catalogue().forms
    for form_id in offer.form_ids:
        if form_id in forms and forms[form_id].has_text:
            # Not sent by anyone and not notified: the resident is answering it now.
            db.session.add(Dispatch(enrolment_id=enrolment.id, form_id=form_id, purpose="screening", created_at=now,
                                    send_at=now, notified_at=now, draft="{}", reminders_sent=0))
    referral = Referral(enrolment_id=enrolment.id, offer_id=offer.id, status="screening", created_at=now, message="")
    db.session.add(referral)
    db.session.flush()
    return referral


def screening_dispatches(referral: Referral) -> list[Dispatch]:
    """The request's screening questionnaires in the order they are answered, answers loaded."""
    return list(db.session.scalars(
        select(Dispatch).options(joinedload(Dispatch.submission))
        .where(Dispatch.enrolment_id == referral.enrolment_id, Dispatch.purpose == "screening")
        .order_by(Dispatch.id)))


def send(referral: Referral) -> None:
    """All screening answered: the request goes to the unit's triage list."""
    if referral.status != "screening":
        raise ReferralError("already_sent")
    if any(d.answered_at is None for d in screening_dispatches(referral)):
        raise ReferralError("screening_unanswered")
    referral.status = "waiting"
    referral.submitted_at = utcnow()
    add_event(referral.enrolment, referral.enrolment.patient, "referred")


# --- the care unit -----------------------------------------------------------------------


@dataclass
class TriageRow:
    referral: Referral
    enrolment: Enrolment
    patient: User
    submissions: list[Submission]
    open_alert: bool


def triage(clinician: User) -> list[TriageRow]:
    """Sent requests of the clinician's units not yet accepted or declined, oldest first (three queries)."""
    rows = [tuple(r) for r in db.session.execute(
        select(Referral, Enrolment, User).join(Enrolment, Enrolment.id == Referral.enrolment_id)
        .join(User, User.id == Enrolment.patient_id).options(joinedload(Enrolment.care_unit))
        .where(Referral.status.in_(TRIAGE_STATUSES), Enrolment.care_unit_id.in_(unit_ids_subquery(clinician)))
        .order_by(Referral.submitted_at, Referral.id))]
    ids = [e.id for _r, e, _p in rows]
    submissions: dict[int, list[Submission]] = {}
    alerts: set[int] = set()
    if ids:
        for s in db.session.scalars(select(Submission).join(Dispatch, Dispatch.id == Submission.dispatch_id)
                                    .where(Submission.enrolment_id.in_(ids), Dispatch.purpose == "screening")
                                    .order_by(Submission.id)):
            submissions.setdefault(s.enrolment_id, []).append(s)
        alerts = set(db.session.scalars(select(SafetyAlert.enrolment_id).where(
            SafetyAlert.enrolment_id.in_(ids), SafetyAlert.acknowledged_at.is_(None))))
    return [TriageRow(r, e, p, submissions.get(e.id, []), e.id in alerts) for r, e, p in rows]


def load_referral_for_clinician(referral_id: int, clinician: User) -> Referral:
    """A sent request of one of the clinician's care units, else 404."""
    referral = db.session.scalar(
        select(Referral).join(Enrolment, Enrolment.id == Referral.enrolment_id)
        .options(joinedload(Referral.enrolment).joinedload(Enrolment.patient),
                 joinedload(Referral.enrolment).joinedload(Enrolment.care_unit))
        .where(Referral.id == referral_id, Referral.status != "screening",
               Enrolment.care_unit_id.in_(unit_ids_subquery(clinician))))
    if referral is None:
        abort(404)
    return referral


def _answered(referral: Referral, clinician: User, status: str, message: str) -> None:
    referral.status = status
    referral.answered_at = utcnow()
    referral.answered_by_id = clinician.id
    referral.message = message.strip()[:MESSAGE_MAX]


def accept(referral: Referral, clinician: User, welcome_text: str) -> None:
    """Open access with the welcome text (the same notice as any opened programme)."""
    if referral.status not in TRIAGE_STATUSES:
        raise ReferralError("already_answered")
    open_referred(referral.enrolment, clinician=clinician, welcome_text=welcome_text)
    _answered(referral, clinician, "accepted", "")


def ask_for_visit(referral: Referral, clinician: User, message: str) -> None:
    """The unit wants to see the resident first; the message says how (told without content)."""
    if referral.status not in TRIAGE_STATUSES:
        raise ReferralError("already_answered")
    if not message.strip():
        raise ReferralError("message_missing")
    _answered(referral, clinician, "visit", message)
    add_event(referral.enrolment, clinician, "visit_requested")
    _tell(referral)


def decline(referral: Referral, clinician: User, message: str) -> None:
    """Not this programme: the request closes and the message says why (and where to turn instead)."""
    if referral.status not in TRIAGE_STATUSES:
        raise ReferralError("already_answered")
    if not message.strip():
        raise ReferralError("message_missing")
    _answered(referral, clinician, "declined", message)
    enrolment = referral.enrolment
    enrolment.status = EnrolmentStatus.CLOSED.value
    enrolment.closed_at = referral.answered_at
    enrolment.close_reason = "self-referral declined"
    add_event(enrolment, clinician, "closed", "self-referral declined")
    _tell(referral)


def _tell(referral: Referral) -> None:
    # Content-free: the unit's name and a link, never what the request was about or the answer.
    enrolment = referral.enrolment
    notify(enrolment.patient, Kind.REFERRAL_ANSWERED,
           {"url": external_url("referrals.mine"), **sender_of(enrolment)}, channels=patient_channels(enrolment.patient))


def has_pending_request(user: User) -> bool:
    """The resident has a request the unit has not declined: e-ID may log them in to follow it."""
    return db.session.scalar(
        select(Referral.id).join(Enrolment, Enrolment.id == Referral.enrolment_id)
        .where(Enrolment.patient_id == user.id, Referral.status.in_(("screening", *TRIAGE_STATUSES))).limit(1)) is not None
