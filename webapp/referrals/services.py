"""Self-referral: a unit's open programmes, a resident's request with its screening, the unit's answer.

A request is an enrolment in the status "referred" with a Referral beside it.
The screening questionnaires are dispatches of that enrolment (purpose
"screening"), answered and scored like any other, so a safety answer opens a
SafetyAlert for the unit at once (``questionnaires.services.submit``). The
clinician's answer opens access (``programme.enrolments.open_referred``), asks
for a visit, or declines. Views own the commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import abort
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from webapp.auth.models import CareUnit, User
from webapp.auth.services import unit_ids_subquery
from webapp.content.services import get_catalogue
from webapp.core.audit import security_event
from webapp.core.db import utcnow
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.services import Kind, notify
from webapp.programme.enrolments import (
    EnrolmentError,
    add_event,
    default_welcome,
    find_patient,
    open_enrolment,
    open_referred,
    patient_channels,
    register_patient,
    sender_of,
)
from webapp.programme.models import Enrolment, EnrolmentStatus
from webapp.questionnaires.models import Dispatch, SafetyAlert, Submission
from webapp.referrals.models import Referral, ReferralOffer, RegistrationCode

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


# --- registration codes (units without e-ID) ---------------------------------------------

# Letters and digits that cannot be mistaken for each other when read aloud or copied by hand.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
CODE_DAYS = 60
MAX_CODES = 50


def normalise_code(text: str) -> str:
    """A code as typed: case, spaces and dashes do not matter."""
    return "".join(ch for ch in (text or "").upper() if ch.isascii() and ch.isalnum())[:40]


def _hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("ascii")).hexdigest()


def create_codes(offer: ReferralOffer, count: int, label: str, actor: User, days: int = CODE_DAYS) -> list[str]:
    """``count`` single-use codes for one group (shown once, stored as hashes; audited)."""
    now = utcnow()
    codes = []
    for _ in range(max(1, min(count, MAX_CODES))):
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        db.session.add(RegistrationCode(offer_id=offer.id, code_hash=_hash(raw), label=label.strip()[:100],
                                        created_by_id=actor.id, created_at=now, expires_at=now + timedelta(days=days)))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    security_event("registration_codes_created", actor, f"{len(codes)} codes for offer {offer.id}")
    return codes


def codes_of_units(unit_ids_query) -> list[RegistrationCode]:
    """The units' codes, newest first (hashes only: what is shown is the group, dates and use)."""
    return list(db.session.scalars(
        select(RegistrationCode).join(ReferralOffer, ReferralOffer.id == RegistrationCode.offer_id)
        .options(joinedload(RegistrationCode.offer).joinedload(ReferralOffer.care_unit))
        .where(ReferralOffer.care_unit_id.in_(unit_ids_query))
        .order_by(RegistrationCode.created_at.desc(), RegistrationCode.id.desc()).limit(200)))


def check_code(text: str) -> RegistrationCode:
    """The code if it can be used now, else ReferralError ("code_unknown", "code_used", "code_expired")."""
    code = db.session.scalar(select(RegistrationCode).options(joinedload(RegistrationCode.offer))
                             .where(RegistrationCode.code_hash == _hash(text)))
    if code is None:
        raise ReferralError("code_unknown")
    if code.used_at is not None:
        raise ReferralError("code_used")
    if code.expires_at <= utcnow():
        raise ReferralError("code_expired")
    return code


def redeem(text: str, *, personal_number: str, full_name: str, email: str, locale: str) -> Enrolment:
    """Use a code: the account (invited: password and second factor are chosen from the e-mailed link)
    and the enrolment of the code's programme and unit, opened in the name of the code's maker.

    The code is spent by one conditional UPDATE: of two uses at once, one wins
    and the other gets "code_used". Each use is a security event.
    """
    code = check_code(text)
    now = utcnow()
    spent = db.session.execute(update(RegistrationCode).where(
        RegistrationCode.id == code.id, RegistrationCode.used_at.is_(None), RegistrationCode.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False))
    if spent.rowcount != 1:
        raise ReferralError("code_used")
    offer = code.offer
    programme = get_catalogue().programmes.get(offer.programme_id)
    maker = db.session.get(User, code.created_by_id) if code.created_by_id else None
    if programme is None or maker is None:
        raise ReferralError("code_unknown")
    patient = find_patient(personal_number)
    if patient is not None and (patient.role != "patient" or patient.has_password):
        # Someone who already logs in asks their unit instead (and no account is taken over by a code).
        raise ReferralError("has_account")
    if patient is None:
        try:
            patient = register_patient(personal_number=personal_number, full_name=full_name, email=email,
                                       phone=None, locale=locale)
        except EnrolmentError as exc:
            raise ReferralError(exc.code) from None
        db.session.flush()
    try:
        enrolment = open_enrolment(patient=patient, programme=programme, unit=offer.care_unit, clinician=maker,
                                   responsible=maker, recommended_days=programme.recommended_days,
                                   welcome_text=default_welcome(programme, locale), skipped=[])
    except EnrolmentError as exc:
        raise ReferralError(exc.code) from None
    db.session.execute(update(RegistrationCode).where(RegistrationCode.id == code.id)
                       .values(used_by_id=patient.id).execution_options(synchronize_session=False))
    security_event("registration_code_used", patient, f"code {code.id} of offer {offer.id}")
    return enrolment
