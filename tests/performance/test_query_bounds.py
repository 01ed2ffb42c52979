"""Query bounds: every patient, clinician and admin list or detail page runs no
more SQL statements with 50 rows of what grows on it than with 1 (issue 9).

Each case adds row 0, counts the statements of a warmed-up request, adds rows
1–49, and counts again (fewer where the content caps the rows: 33 answer
blocks, 8 modules, 8 notification choices). A page that runs a query per row
fails with the statements listed; a page that silently shows nothing fails on
its marks. The test's own session commits, so builders only flush.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime, time, timedelta, timezone

import pytest

from tests.fixtures.plugin import PASSWORD
from tests.performance.bounds import Case, World, listing, measure
from webapp.auth.models import UserSession
from webapp.auth.services import create_care_unit, create_user
from webapp.careplan.models import CarePlan, CarePlanVersion, FollowUpContact
from webapp.content.services import get_catalogue
from webapp.core.audit import AccessLogEntry
from webapp.core.db import utcnow
from webapp.core.identity import luhn_check_digit
from webapp.core.security import hash_password
from webapp.groups.models import Group, GroupMember, GroupSession
from webapp.messages.models import Conversation, Message, MessageTemplate
from webapp.notifications.models import NotificationConsent, OutboxItem
from webapp.notifications.services import OPTIONAL_KINDS
from webapp.programme.models import Answer, Enrolment, EnrolmentEvent, ModuleProgress
from webapp.questionnaires.models import Dispatch, Round, SafetyAlert, Submission

PROGRAMME = "pain-school"
# A noon a few months back: dates shown on pages are the same day in UTC and in Stockholm.
BASE = datetime.combine(utcnow().date() - timedelta(days=90), time(12, 0), tzinfo=timezone.utc)
CHOICES = [(kind.value, channel) for kind in OPTIONAL_KINDS for channel in ("email", "sms")]


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def _user(make, role, **kw):
    """A user who can log in, with the password hashed once per run (argon2 takes a good part of a second)."""
    user = make.user(role, password=None, **kw)
    user.password_hash = _password_hash()
    make.db.session.commit()
    return user


@pytest.fixture
def world(app, db, make):
    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = _user(make, "clinician", units=[unit], name="Elsa Exempel")
    patient = _user(make, "patient", name="Kim Exempelsson", phone="+46701740605")
    # Ten weeks in: every module of the weekly pain school is open.
    enrolment = make.enrolment(patient, unit, clinician, programme=PROGRAMME, started_at=utcnow() - timedelta(weeks=10))
    return World(db, make, unit, clinician, patient, enrolment)


# --- small helpers --------------------------------------------------------------------


def _pnr(n: int) -> str:
    serial = f"19800101{n:03d}"
    return f"{serial}{luhn_check_digit(serial[2:])}"


def _blocks() -> list[tuple[str, str, str, str]]:
    """(module id, kind, block id, question html in Swedish) of every answer block of the programme."""
    result = []
    for module in get_catalogue().programmes[PROGRAMME].published_modules:
        version, _fallback = module.version("sv")
        for page in version.pages:
            for segment in page.segments:
                if segment.kind in ("reflection", "task", "rating") and segment.id:
                    result.append((module.id, segment.kind, segment.id, str(segment.html)))
    return result


# One answer per block, so the answer cases stop at the pain school's 33 blocks (checked below).
BLOCK_COUNT = 49


def _summary_page() -> tuple[str, int]:
    """The module and page where the pain school gathers the patient's answers."""
    for module in get_catalogue().programmes[PROGRAMME].published_modules:
        version, _fallback = module.version("sv")
        for number, page in enumerate(version.pages, 1):
            if any(s.kind == "summary" for s in page.segments):
                return module.id, number
    raise AssertionError("the programme has no summary page")


def _colleague(w):
    if "colleague" not in w.kept:
        w.kept["colleague"] = w.make.user("clinician", units=[w.unit], name="Jonas Ek", password=None)
    return w.kept["colleague"]


def _patient_enrolment(w, n: int, unit=None, **kw) -> Enrolment:
    """A new patient "Patient n" with an active pain-school enrolment (no password: hashing is slow)."""
    patient = create_user(role="patient", email=f"patient-{n}@lotsa.example", full_name=f"Patient {n}",
                          personal_number=kw.pop("personal_number", None))
    enrolment = Enrolment(patient=patient, care_unit_id=(unit or w.unit).id, responsible_clinician_id=w.clinician.id,
                          programme_id=PROGRAMME, status=kw.pop("status", "active"),
                          started_at=kw.pop("started_at", utcnow()), recommended_days=365, **kw)
    w.flush(enrolment)
    return enrolment


def _dispatch(w, enrolment_id: int, form_id="phq-9", answered_at=None, total=None, **kw) -> Dispatch:
    dispatch = Dispatch(enrolment_id=enrolment_id, form_id=form_id, sent_by_id=w.clinician.id,
                        purpose=kw.pop("purpose", "manual"), created_at=BASE, send_at=kw.pop("send_at", BASE),
                        draft="{}", reminders_sent=0, answered_at=answered_at, **kw)
    w.flush(dispatch)
    if answered_at is not None:
        w.flush(Submission(dispatch_id=dispatch.id, enrolment_id=enrolment_id, form_id=form_id,
                         answers=json.dumps({"q1": 1}), total=total, band="Mild" if total else None,
                         subscales="{}", safety_hit=False, submitted_at=answered_at))
    return dispatch


def _plan_content(n: int) -> str:
    return json.dumps({"goals": [{"matters": f"Mål {n}", "able_to": f"Kunna {n}"}],
                       "activities": [{"what": f"Promenad {n}", "who": "patient", "when": "varje dag"}],
                       "review_on": ""})


# --- data builders: add rows numbered ``numbers`` and mark what the page must show ------------


def add_programmes(w, numbers):
    """More programmes for the patient, each with a waiting questionnaire, a contact, a plan, a group and news."""
    programmes = list(get_catalogue().programmes)
    for n in numbers:
        e = Enrolment(patient_id=w.patient.id, care_unit_id=w.unit.id, responsible_clinician_id=w.clinician.id,
                      programme_id=programmes[n % len(programmes)], status="active", started_at=utcnow(),
                      recommended_days=365, welcome_text=f"Välkommen {n}")
        w.flush(e)
        plan = CarePlan(enrolment_id=e.id, created_at=BASE)
        group = Group(care_unit_id=w.unit.id, programme_id=e.programme_id, name=f"Grupp {n}", created_at=BASE)
        w.flush(plan, group)
        w.flush(CarePlanVersion(plan_id=plan.id, number=1, content=_plan_content(n), created_at=BASE),
                GroupSession(group_id=group.id, starts_at=utcnow() + timedelta(days=7), topic=f"Träff {n}"),
                GroupMember(group_id=group.id, enrolment_id=e.id, added_at=BASE),
                FollowUpContact(enrolment_id=e.id, kind="phone", due_at=utcnow() + timedelta(days=3), purpose="",
                                created_by_id=w.clinician.id),
                Conversation(enrolment_id=e.id, unread_for_patient=1, unread_for_staff=0, last_message_at=BASE),
                Message(enrolment_id=e.id, author_id=w.clinician.id, side="staff", body="Hej", created_at=BASE))
        _dispatch(w, e.id)
        w.marks[n] = f"Välkommen {n}"


def add_progress(w, numbers):
    """Progress in module n of the pain school: read up to page 2."""
    modules = get_catalogue().programmes[PROGRAMME].published_modules
    for n in numbers:
        w.flush(ModuleProgress(enrolment_id=w.enrolment.id, module_id=modules[n].id, pages_seen_mask=3,
                               last_page=2, seconds_spent=120, first_opened_at=BASE, last_opened_at=BASE))
        w.marks[n] = f"/e/{w.enrolment.id}/{modules[n].id}/2"


def add_answers(w, numbers):
    """The patient's answer to block n of the programme (each block holds one answer)."""
    blocks = _blocks()
    for n in numbers:
        module_id, kind, block_id, question = blocks[n]
        w.flush(Answer(enrolment_id=w.enrolment.id, module_id=module_id, block_id=block_id, kind=kind,
                       text=f"Mitt svar {n}", value=5 if kind == "rating" else None,
                       checked_items="0" if kind == "task" else "", version=1, created_at=BASE, updated_at=BASE))
        w.marks[n] = question


def add_plan_versions(w, numbers):
    """Version n+1 of the care plan; every other one agreed by the patient."""
    if "plan" not in w.kept:
        w.kept["plan"] = CarePlan(enrolment_id=w.enrolment.id, created_at=BASE)
        w.flush(w.kept["plan"])
    for n in numbers:
        w.flush(CarePlanVersion(plan_id=w.kept["plan"].id, number=n + 1, content=_plan_content(n),
                                created_by_id=(w.clinician if n % 2 else _colleague(w)).id,
                                created_at=BASE + timedelta(hours=n),
                                agreed_at=BASE + timedelta(hours=n, minutes=5) if n % 2 else None,
                                agreed_by_id=w.patient.id if n % 2 else None))
        w.marks[n] = f"Kunna {n}"


def add_messages(w, numbers):
    """Message n of the conversation: from the patient, the clinician or a colleague, read or not."""
    if w.db.session.get(Conversation, w.enrolment.id) is None:
        w.flush(Conversation(enrolment_id=w.enrolment.id, unread_for_patient=0, unread_for_staff=0))
    for n in numbers:
        side = "patient" if n % 3 == 0 else "staff"
        author = w.patient if side == "patient" else (w.clinician if n % 3 == 1 else _colleague(w))
        reader = _colleague(w) if side == "patient" else w.patient
        w.flush(Message(enrolment_id=w.enrolment.id, author_id=author.id, side=side, body=f"Meddelande {n}",
                        created_at=BASE + timedelta(minutes=n), read_at=BASE + timedelta(minutes=n + 1),
                        read_by_id=reader.id))
        w.marks[n] = f"Meddelande {n}"


def add_waiting_questionnaires(w, numbers):
    """Questionnaire n waiting for the patient; the page shows the first one."""
    forms = ["phq-9", "gad-7", "peg"]
    for n in numbers:
        dispatch = _dispatch(w, w.enrolment.id, form_id=forms[n % 3], due_at=utcnow() + timedelta(days=n + 1))
        w.kept.setdefault("dispatch", dispatch)
        w.marks[n] = "PHQ-9"


def add_own_results(w, numbers):
    """The patient's answer n to the PEG, a day apart, shown on the page after answering."""
    for n in numbers:
        at = BASE + timedelta(days=n)
        dispatch = _dispatch(w, w.enrolment.id, form_id="peg", answered_at=at, total=float(n % 11))
        w.kept.setdefault("dispatch", dispatch)
        w.marks[n] = at.date().isoformat()


def add_consents(w, numbers):
    """Choice n of kind and channel, said yes to (SMS needs a confirmed number)."""
    w.patient.phone_verified_at = BASE
    for n in numbers:
        kind, channel = CHOICES[n]
        w.flush(NotificationConsent(user_id=w.patient.id, kind=kind, channel=channel, is_enabled=True,
                                    consented_at=BASE, updated_at=BASE))
        w.marks[n] = f'value="{kind}:{channel}" checked'


def add_my_data(w, numbers):
    """A message, a staff read of the patient's data and a notification sent, per row: all in the copy."""
    add_messages(w, numbers)
    for _n in numbers:
        w.flush(AccessLogEntry(at=BASE, actor_id=w.clinician.id, actor_role="clinician", patient_id=w.patient.id,
                               enrolment_id=w.enrolment.id, action="enrolment.view"),
                OutboxItem(kind="new_message", channel="email", user_id=w.patient.id, address=w.patient.email,
                           locale="sv", payload="{}", status="sent", attempts=1, due_at=BASE, sent_at=BASE))


def add_sessions(w, numbers):
    """Log-in n of the patient on another device."""
    for n in numbers:
        w.flush(UserSession(token_hash=hashlib.sha256(f"device-{n}".encode()).hexdigest(), user_id=w.patient.id,
                            created_at=BASE, last_seen_at=utcnow() - timedelta(minutes=n),
                            expires_at=utcnow() + timedelta(days=1), user_agent=f"Webbläsare {n}"))
        w.marks[n] = f"Webbläsare {n}"


def add_caseload(w, numbers):
    """Patient n in the clinician's unit, active now and then; every reason to be on top in turn:
    an open safety alert, an unread message, answers after the last staff message, a finished module."""
    for n in numbers:
        enrolment = _patient_enrolment(w, n, last_active_at=utcnow() if n % 2 else None,
                                       started_at=utcnow() - timedelta(days=20 + n % 40))
        if n % 4 == 0:
            w.flush(SafetyAlert(enrolment_id=enrolment.id, created_at=BASE, escalate_at=BASE, note=""))
        if n % 4 == 1:
            w.flush(Conversation(enrolment_id=enrolment.id, unread_for_patient=0, unread_for_staff=1))
        if n % 4 == 2:
            w.flush(Message(enrolment_id=enrolment.id, author_id=w.clinician.id, side="staff", body="Hej",
                            created_at=BASE),
                    Answer(enrolment_id=enrolment.id, module_id="m", block_id="b", kind="reflection", text="x",
                           version=1, created_at=BASE, updated_at=BASE + timedelta(days=1)))
        if n % 4 == 3:
            w.flush(ModuleProgress(enrolment_id=enrolment.id, module_id="m", completed_at=BASE))
        w.marks[n] = f"Patient {n}"


def add_waiting_feedback(w, numbers):
    """Patient n answered, or finished a module, after the care team's last message."""
    for n in numbers:
        enrolment = _patient_enrolment(w, n)
        w.flush(Message(enrolment_id=enrolment.id, author_id=w.clinician.id, side="staff", body="Hej",
                        created_at=BASE))
        if n % 2:
            w.flush(ModuleProgress(enrolment_id=enrolment.id, module_id="m", completed_at=BASE + timedelta(days=1)))
        else:
            w.flush(Answer(enrolment_id=enrolment.id, module_id="m", block_id="b", kind="reflection", text="x",
                           version=1, created_at=BASE, updated_at=BASE + timedelta(days=1)))
        w.marks[n] = f"Patient {n}"


def add_alerts(w, numbers):
    """Safety alert n in the clinician's unit: open, or acknowledged by a colleague with a note."""
    for n in numbers:
        enrolment = _patient_enrolment(w, n)
        acknowledged = n % 2 == 1
        w.flush(SafetyAlert(enrolment_id=enrolment.id, created_at=BASE + timedelta(days=80, hours=n),
                            escalate_at=BASE, note=f"Ringde {n}" if acknowledged else "",
                            acknowledged_at=BASE + timedelta(days=80, hours=n + 2) if acknowledged else None,
                            acknowledged_by_id=(w.clinician if n % 4 == 1 else _colleague(w)).id
                            if acknowledged else None))
        w.marks[n] = f"Patient {n}"


def add_enrolment_rows(w, numbers):
    """For the clinician's enrolment page: a contact, a scored questionnaire, a message, an event, an answer."""
    blocks = _blocks()
    add_messages(w, numbers)
    for n in numbers:
        kept = n % 2 == 1
        w.flush(FollowUpContact(enrolment_id=w.enrolment.id, kind="visit", due_at=BASE + timedelta(days=n),
                                purpose=f"Kontakt {n}", created_by_id=w.clinician.id,
                                outcome="kept" if kept else None, recorded_at=BASE if kept else None,
                                recorded_by_id=(w.clinician if n % 4 == 1 else _colleague(w)).id if kept else None,
                                note=f"Anteckning {n}" if kept else "", rating=n % 11 if kept else None),
                EnrolmentEvent(enrolment_id=w.enrolment.id, at=BASE + timedelta(hours=n),
                               actor_id=(w.clinician if n % 2 else _colleague(w)).id, kind="extended", detail="30"))
        _dispatch(w, w.enrolment.id, form_id=["phq-9", "gad-7", "peg"][n % 3],
                  answered_at=BASE + timedelta(days=n) if n % 5 else None, total=float(n % 20))
        if n < len(blocks):
            module_id, kind, block_id, _question = blocks[n]
            w.flush(Answer(enrolment_id=w.enrolment.id, module_id=module_id, block_id=block_id, kind=kind,
                           text=f"Mitt svar {n}", version=1, created_at=BASE, updated_at=BASE))
        w.marks[n] = f"Kontakt {n}"


def add_overview_rows(w, numbers):
    """For the enrolment overview: a message, an answer, a module done and a scored questionnaire per row.

    The overview lists every questionnaire answered since the clinician's last visit
    (all of them on the first), so each row's score is on the page.
    """
    blocks = _blocks()
    modules = get_catalogue().programmes[PROGRAMME].published_modules
    add_messages(w, numbers)
    for n in numbers:
        _dispatch(w, w.enrolment.id, form_id="phq-9", answered_at=BASE + timedelta(days=n), total=float(1000 + n))
        if n < len(blocks):
            module_id, kind, block_id, _question = blocks[n]
            w.flush(Answer(enrolment_id=w.enrolment.id, module_id=module_id, block_id=block_id, kind=kind,
                           text=f"Mitt svar {n}", version=1, created_at=BASE, updated_at=BASE))
        if n < len(modules):
            w.flush(ModuleProgress(enrolment_id=w.enrolment.id, module_id=modules[n].id, pages_seen_mask=1,
                                   last_page=1, seconds_spent=60, first_opened_at=BASE, last_opened_at=BASE,
                                   completed_at=BASE))
        w.marks[n] = str(1000 + n)


def add_outcomes(w, numbers):
    """Answer n of a weekly PHQ-9 and a PEG: every score has a row in its questionnaire's table."""
    for n in numbers:
        _dispatch(w, w.enrolment.id, form_id=["phq-9", "peg"][n % 2], answered_at=BASE + timedelta(days=7 * n),
                  total=float(1000 + n), purpose="after" if n == 5 else "manual")
        w.marks[n] = f">{1000 + n}<"


def add_events(w, numbers):
    """Event n of the enrolment's history, by the clinician or a colleague."""
    for n in numbers:
        w.flush(EnrolmentEvent(enrolment_id=w.enrolment.id, at=BASE + timedelta(hours=n),
                               actor_id=(w.clinician if n % 2 else _colleague(w)).id, kind="extended",
                               detail=f"Händelse {n}"))
        w.marks[n] = f"Händelse {n}"


def add_templates(w, numbers):
    """Message template n: the unit's, or the clinician's own."""
    for n in numbers:
        w.flush(MessageTemplate(care_unit_id=w.unit.id, owner_id=w.clinician.id if n % 2 else None,
                                kind="feedback", locale="sv", name=f"Mall {n}", body=f"Hej {{förnamn}} {n}"))
        w.marks[n] = f"Mall {n}"


def add_feedback_waiting(w, numbers):
    """Patient n has saved an answer and waits for feedback (and a conversation waits, too)."""
    block = _blocks()[0]
    for n in numbers:
        e = _patient_enrolment(w, n)
        w.flush(Answer(enrolment_id=e.id, module_id=block[0], block_id=block[2], kind=block[1], text="Svar",
                       version=1, created_at=BASE, updated_at=BASE))
        w.marks[n] = f"Patient {n}<"


def add_worklist(w, numbers):
    """A contact due with patient n, some missed last week."""
    for n in numbers:
        e = _patient_enrolment(w, n)
        missed = n % 4 == 3
        w.flush(FollowUpContact(enrolment_id=e.id, kind=["phone", "video", "visit"][n % 3],
                                due_at=utcnow() - timedelta(hours=n + 1), purpose=f"Om målen {n}",
                                created_by_id=w.clinician.id, outcome="missed" if missed else None,
                                recorded_at=utcnow() - timedelta(days=2) if missed else None,
                                recorded_by_id=w.clinician.id if missed else None))
        w.marks[n] = f"Om målen {n}"


def add_threads(w, numbers):
    """Patient n waits for an answer."""
    for n in numbers:
        e = _patient_enrolment(w, n)
        w.flush(Conversation(enrolment_id=e.id, waiting_since=BASE + timedelta(minutes=n), unread_for_staff=2,
                             unread_for_patient=0, last_message_at=BASE),
                Message(enrolment_id=e.id, author_id=e.patient_id, side="patient", body="Hej", created_at=BASE))
        w.marks[n] = f"Patient {n}"


def add_groups(w, numbers):
    """Group n with its sessions and one member."""
    for n in numbers:
        group = Group(care_unit_id=w.unit.id, programme_id=PROGRAMME, name=f"Grupp {n}", created_by_id=w.clinician.id,
                      created_at=BASE + timedelta(minutes=n))
        group.sessions = [GroupSession(starts_at=BASE + timedelta(days=7 * week), module_id=None, topic="")
                          for week in range(4)]
        w.flush(group)
        w.flush(GroupMember(group_id=group.id, enrolment_id=_patient_enrolment(w, n).id, added_at=BASE))
        w.marks[n] = f"Grupp {n}"


def add_members(w, numbers):
    """Patient n joins the group."""
    if "group" not in w.kept:
        w.kept["group"] = Group(care_unit_id=w.unit.id, programme_id=PROGRAMME, name="Smärtskola tisdagar",
                                created_by_id=w.clinician.id, created_at=BASE)
        w.kept["group"].sessions = [GroupSession(starts_at=BASE + timedelta(days=3 * k), topic="") for k in range(16)]
        w.flush(w.kept["group"])
    for n in numbers:
        e = _patient_enrolment(w, n, status="invited" if n % 3 == 0 else "active")
        w.flush(GroupMember(group_id=w.kept["group"].id, enrolment_id=e.id, added_at=BASE))
        w.marks[n] = f"Patient {n}"


def add_rounds(w, numbers):
    """Round n: a questionnaire sent to patient n (one of the clinician's own, so also a candidate)."""
    for n in numbers:
        e = _patient_enrolment(w, n)
        round_ = Round(form_id=["phq-9", "gad-7"][n % 2], care_unit_id=w.unit.id, sent_by_id=w.clinician.id,
                       created_at=BASE + timedelta(minutes=n), send_at=BASE, due_at=BASE + timedelta(days=7))
        w.flush(round_)
        _dispatch(w, e.id, form_id=round_.form_id, round_id=round_.id, due_at=round_.due_at,
                  answered_at=BASE if n % 2 else None, total=5.0)
        w.marks[n] = f"/clinician/questionnaires/rounds/{round_.id}\""


def add_recipients(w, numbers):
    """Patient n gets the round's questionnaire; some answered, some overdue."""
    if "round" not in w.kept:
        w.kept["round"] = Round(form_id="phq-9", care_unit_id=w.unit.id, sent_by_id=w.clinician.id, created_at=BASE,
                                send_at=BASE, due_at=BASE + timedelta(days=7))
        w.flush(w.kept["round"])
    for n in numbers:
        e = _patient_enrolment(w, n, status="closed" if n % 7 == 6 else "active")
        dispatch = _dispatch(w, e.id, round_id=w.kept["round"].id, due_at=w.kept["round"].due_at,
                             answered_at=BASE + timedelta(days=1) if n % 2 else None, total=float(n % 28))
        dispatch.reminders_sent = n % 3
        w.marks[n] = f"Patient {n}"


def add_responses(w, numbers):
    """Patient n's scored PHQ-9, for the CSV export."""
    start = utcnow().replace(microsecond=0) - timedelta(days=1)
    for n in numbers:
        at = start + timedelta(minutes=n)
        _dispatch(w, _patient_enrolment(w, n, personal_number=_pnr(n)).id, answered_at=at, total=float(n % 28))
        w.marks[n] = at.isoformat()


def add_units(w, numbers):
    """Care unit n with a staff member "Personal n", and a delivery that failed."""
    for n in numbers:
        unit = create_care_unit(f"enhet-{n}", f"Enhet {n}")
        staff = create_user(role="clinician" if n % 2 else "editor", email=f"personal-{n}@lotsa.example",
                            full_name=f"Personal {n}", units=[unit])
        w.flush(unit, staff)
        w.flush(OutboxItem(kind="new_message", channel="email", user_id=staff.id, address=staff.email, locale="sv",
                           payload="{}", status="failed", attempts=5, due_at=BASE, last_error=f"fel {n}"))
        w.marks[n] = f"Personal {n}"


def add_log_rows(w, numbers):
    """A staff read of patient n's data."""
    for n in numbers:
        patient = create_user(role="patient", email=f"patient-{n}@lotsa.example", full_name=f"Patient {n}",
                              personal_number=_pnr(n))
        w.flush(patient)
        w.flush(AccessLogEntry(at=BASE + timedelta(minutes=n), actor_id=(w.clinician if n % 2 else _colleague(w)).id,
                               actor_role="clinician", patient_id=patient.id, action="enrolment.view",
                               detail=f"Läsning {n}"))
        w.marks[n] = f"Läsning {n}"


def add_follow_up(w, numbers):
    """Care unit n with a patient who finished a module, answered before and after, agreed a plan, kept a contact."""
    module_id = get_catalogue().programmes[PROGRAMME].published_modules[0].id
    for n in numbers:
        unit = create_care_unit(f"enhet-{n}", f"Enhet {n}")
        w.flush(unit)
        e = _patient_enrolment(w, n, unit=unit, started_at=BASE)
        plan = CarePlan(enrolment_id=e.id, created_at=BASE)
        w.flush(plan, ModuleProgress(enrolment_id=e.id, module_id=module_id, pages_seen_mask=1, last_page=1,
                                     seconds_spent=60, first_opened_at=BASE,
                                     completed_at=BASE + timedelta(days=n % 5 + 1), last_opened_at=BASE),
                FollowUpContact(enrolment_id=e.id, kind="phone", due_at=BASE + timedelta(days=10), outcome="kept",
                                recorded_at=BASE + timedelta(days=10), created_by_id=w.clinician.id))
        w.flush(CarePlanVersion(plan_id=plan.id, number=1, content=_plan_content(n), created_at=BASE,
                                agreed_at=BASE + timedelta(days=5), agreed_by_id=e.patient_id))
        _dispatch(w, e.id, purpose="before", answered_at=BASE, total=15.0)
        _dispatch(w, e.id, purpose="after", answered_at=BASE + timedelta(days=60), total=float(n % 15))
        w.marks[n] = f"Enhet {n}"


def add_patients_to_find(w, numbers):
    """Patient n with an identity number; the search looks for the newest one."""
    for n in numbers:
        w.kept["pnr"] = _pnr(n)
        _patient_enrolment(w, n, personal_number=w.kept["pnr"])
        w.marks[n] = f"Patient {n}"


def add_unrelated(w, numbers):
    """Patients in the clinician's unit, for pages that list no rows (a form, the content): nothing to mark."""
    add_caseload(w, numbers)
    for n in numbers:
        w.marks[n] = ""


# --- the cases -------------------------------------------------------------------------------


def _e(w) -> int:
    return w.enrolment.id


def _summary_url(w) -> str:
    module_id, page = _summary_page()
    return f"/e/{_e(w)}/{module_id}/{page}"


CASES = [
    # The patient.
    Case("home", "patient", lambda w: "/home", add_programmes),
    Case("modules", "patient", lambda w: f"/e/{_e(w)}/", add_progress, rows=8),  # the pain school's modules
    Case("module-page", "patient", _summary_url, add_answers, rows=BLOCK_COUNT),
    Case("summary", "patient", lambda w: f"/e/{_e(w)}/summary", add_answers, rows=BLOCK_COUNT),
    Case("plan", "patient", lambda w: f"/e/{_e(w)}/plan", add_plan_versions),
    Case("messages", "patient", lambda w: f"/e/{_e(w)}/messages", add_messages),
    # The answer page shows one questionnaire; what grows is the others waiting beside it.
    Case("questionnaire", "patient", lambda w: f"/e/{_e(w)}/questionnaires/{w.kept['dispatch'].id}",
         add_waiting_questionnaires),
    Case("questionnaire-done", "patient", lambda w: f"/e/{_e(w)}/questionnaires/{w.kept['dispatch'].id}/done",
         add_own_results),
    Case("notifications", "patient", lambda w: "/account/notifications", add_consents, rows=len(CHOICES)),
    Case("my-data", "patient", lambda w: "/account/my-data", add_my_data),
    Case("my-data-json", "patient", lambda w: "/account/my-data.json", add_my_data),
    Case("account", "patient", lambda w: "/auth/account", add_sessions),
    # The clinician.
    Case("caseload", "clinician", lambda w: "/clinician/", add_caseload),
    Case("caseload-behind", "clinician", lambda w: "/clinician/?behind=1&status=all", add_caseload),
    Case("caseload-feedback", "clinician", lambda w: "/clinician/?feedback=1&sort=name", add_waiting_feedback),
    Case("safety-alerts", "clinician", lambda w: "/clinician/alerts", add_alerts),
    Case("enrolment", "clinician", lambda w: f"/clinician/enrolments/{_e(w)}", add_overview_rows),
    Case("enrolment-answers", "clinician", lambda w: f"/clinician/enrolments/{_e(w)}/answers", add_answers,
         rows=BLOCK_COUNT),
    Case("enrolment-outcomes", "clinician", lambda w: f"/clinician/enrolments/{_e(w)}/outcomes", add_outcomes),
    Case("enrolment-care", "clinician", lambda w: f"/clinician/enrolments/{_e(w)}/care", add_enrolment_rows),
    Case("enrolment-settings", "clinician", lambda w: f"/clinician/enrolments/{_e(w)}/settings", add_events),
    Case("message-templates", "clinician", lambda w: "/clinician/message-templates", add_templates),
    Case("inbox-feedback", "clinician", lambda w: "/clinician/inbox", add_feedback_waiting),
    Case("staff-messages", "clinician", lambda w: f"/clinician/enrolments/{_e(w)}/messages", add_messages),
    Case("plan-edit", "clinician", lambda w: f"/clinician/enrolments/{_e(w)}/plan", add_plan_versions),
    Case("follow-ups", "clinician", lambda w: "/clinician/follow-ups", add_worklist),
    Case("inbox", "clinician", lambda w: "/clinician/inbox", add_threads),
    Case("groups", "clinician", lambda w: "/clinician/groups", add_groups),
    Case("group", "clinician", lambda w: f"/clinician/groups/{w.kept['group'].id}", add_members),
    Case("rounds", "clinician", lambda w: "/clinician/questionnaires", add_rounds),
    Case("round", "clinician", lambda w: f"/clinician/questionnaires/rounds/{w.kept['round'].id}", add_recipients),
    Case("export-csv", "clinician", lambda w: "/clinician/questionnaires/export.csv", add_responses),
    Case("open-access", "clinician", lambda w: "/clinician/open", add_unrelated),
    # The administrator and the editor.
    Case("admin", "admin", lambda w: "/admin/", add_units),
    Case("access-log", "admin", lambda w: "/admin/access-log", add_log_rows),
    Case("access-log-csv", "admin", lambda w: "/admin/access-log?format=csv", add_log_rows),
    Case("follow-up", "admin", lambda w: "/admin/follow-up", add_follow_up),
    Case("follow-up-csv", "admin", lambda w: "/admin/follow-up?format=csv", add_follow_up),
    Case("privacy", "admin", lambda w: f"/admin/privacy?personal_number={w.kept['pnr']}", add_patients_to_find),
    Case("content", "editor", lambda w: "/content/", add_unrelated),
]


def _viewer(w, role: str):
    return {"patient": w.patient, "clinician": w.clinician}.get(role) or _user(w.make, role)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_query_count_does_not_grow_with_rows(case, world, db, client, auth, count_queries):
    w = world
    assert auth.login(_viewer(w, case.role)).status_code == 302
    case.add(w, range(1))
    db.session.commit()
    one, html = measure(client, case.url(w), count_queries)
    assert w.marks[0] in html, f"{case.id}: row 0 is not on the page"

    case.add(w, range(1, case.rows))
    db.session.commit()
    many, html = measure(client, case.url(w), count_queries)
    assert w.marks[case.rows - 1] in html, f"{case.id}: row {case.rows - 1} is not on the page"
    print(f"{case.id}: {one.count} statements with 1 row, {many.count} with {case.rows}")
    assert many.count <= one.count, (
        f"{case.id}: {one.count} statements with 1 row, {many.count} with {case.rows}:\n{listing(many)}")


def test_the_answer_cases_use_every_block(app):
    """The answer cases grow to every answer block there is: the content caps them below 50."""
    assert len(_blocks()) == BLOCK_COUNT, "the pain school's answer blocks changed: set BLOCK_COUNT to their number"
