"""Care plans (drafts, shared versions, the patient's agreement, what changed) and
follow-up contacts (planning, the worklist, outcomes, reminders)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import User
from webapp.careplan.models import CarePlan, CarePlanVersion, FollowUpContact
from webapp.core.dates import at_local, day_end, day_start, local_today, to_local
from webapp.core.db import utcnow
from webapp.core.queries import Bound
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.models import NotificationConsent
from webapp.notifications.services import Kind, channels_for, notify
from webapp.programme.enrolments import add_event, sender_of
from webapp.programme.models import Enrolment

# Who can be responsible for an activity (the labels are in forms.py).
RESPONSIBLE = ("patient", "physiotherapist", "psychologist", "occupational_therapist", "doctor", "nurse",
               "care_manager", "other")
CONTACT_KINDS = ("phone", "video", "visit")
GOAL_ROWS, ACTIVITY_ROWS = 5, 8
MAX_TEXT = 500
# "When or how often" is a few words ("every morning", "on Tuesdays").
MAX_WHEN = 100
# A contact planned without a time is at nine in the morning, Swedish time.
DEFAULT_CONTACT_TIME = time(9, 0)


class PlanProblems(Exception):
    """The plan cannot be shared as it is: {field name: problem code}."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("plan")
        self.problems = problems


def empty_plan() -> dict:
    """The content of a plan nobody has written yet."""
    return {"goals": [], "activities": [], "review_on": ""}


def plan_content(goals: list[tuple[str, str]], activities: list[tuple[str, str, str]], review_on: str) -> dict:
    """Plan content from the editor's rows: empty rows are left out, texts kept within their lengths.

    Also used for a draft that did not validate, so an unknown "who" becomes
    "other" and a long text is cut rather than refused.
    """
    return {
        "goals": [{"matters": matters[:MAX_TEXT], "able_to": able[:MAX_TEXT]}
                  for matters, able in goals if matters or able],
        "activities": [{"what": what[:MAX_TEXT], "who": who if who in RESPONSIBLE else "other", "when": when[:MAX_WHEN]}
                       for what, who, when in activities if what],
        "review_on": review_on,
    }


def get_plan(enrolment: Enrolment, create: bool = False) -> CarePlan | None:
    """The enrolment's plan with its versions; with ``create``, a new empty one if there is none."""
    plan = db.session.scalar(select(CarePlan).options(joinedload(CarePlan.versions))
                             .where(CarePlan.enrolment_id == enrolment.id))
    if plan is None and create:
        plan = CarePlan(enrolment_id=enrolment.id, created_at=utcnow())
        db.session.add(plan)
        db.session.flush()
    return plan


def save_draft(enrolment: Enrolment, content: dict) -> CarePlan:
    """Keep the clinician's work as a draft (also when it does not validate yet)."""
    plan = get_plan(enrolment, create=True)
    plan.draft = json.dumps(content, ensure_ascii=False)
    plan.draft_saved_at = utcnow()
    return plan


def share(enrolment: Enrolment, content: dict, actor: User) -> CarePlanVersion:
    """Make the plan a new version the patient sees and can agree to; the draft is cleared."""
    if not content["goals"]:
        raise PlanProblems({"goal_matters_0": "goal_needed"})
    plan = get_plan(enrolment, create=True)
    number = (plan.current.number if plan.current else 0) + 1
    version = CarePlanVersion(plan=plan, number=number, content=json.dumps(content, ensure_ascii=False),
                              created_by_id=actor.id, created_at=utcnow())
    db.session.add(version)
    plan.draft, plan.draft_saved_at = None, None
    add_event(enrolment, actor, "plan_shared", f"version {number}")
    return version


def editable_content(plan: CarePlan | None) -> dict:
    """What the editor opens with: the draft if there is one, else the version the patient sees."""
    if plan is not None and plan.draft:
        return json.loads(plan.draft)
    return content_of(plan.current if plan else None)


def agree(enrolment: Enrolment, version: CarePlanVersion, patient: User) -> None:
    """The patient agrees to this version of the plan; who and when is kept."""
    if version.agreed_at is None:
        version.agreed_at = utcnow()
        version.agreed_by_id = patient.id
        add_event(enrolment, patient, "plan_agreed", f"version {version.number}")


def content_of(version: CarePlanVersion | None) -> dict:
    """A shared version's content (an empty plan for no version)."""
    return json.loads(version.content) if version else empty_plan()


@dataclass(frozen=True)
class Changes:
    goals_added: list
    goals_removed: list
    activities_added: list
    activities_removed: list
    review_changed: tuple | None

    def __bool__(self) -> bool:
        return bool(self.goals_added or self.goals_removed or self.activities_added or self.activities_removed
                    or self.review_changed)


def changes(plan: CarePlan | None) -> Changes | None:
    """What the newest version changed from the one before (None for the first version)."""
    if plan is None or len(plan.versions) < 2:
        return None
    old, new = content_of(plan.versions[-2]), content_of(plan.versions[-1])

    def diff(key):
        return ([x for x in new[key] if x not in old[key]], [x for x in old[key] if x not in new[key]])

    goals_added, goals_removed = diff("goals")
    activities_added, activities_removed = diff("activities")
    review = (old.get("review_on"), new.get("review_on")) if old.get("review_on") != new.get("review_on") else None
    return Changes(goals_added, goals_removed, activities_added, activities_removed, review)


# --- follow-up contacts ------------------------------------------------------------------


def contact_time(day: date, clock: time | None = None) -> datetime:
    """When a contact on a Swedish day and time is due, in UTC (09:00 when no time is given)."""
    return at_local(day, clock or DEFAULT_CONTACT_TIME)


def schedule_contact(enrolment: Enrolment, actor: User, kind: str, due_at: datetime, purpose: str) -> FollowUpContact:
    """Plan a follow-up contact; it appears on the worklist on its day and is in the history."""
    contact = FollowUpContact(enrolment_id=enrolment.id, kind=kind, due_at=due_at, purpose=purpose[:MAX_TEXT],
                              created_by_id=actor.id, created_at=utcnow())
    db.session.add(contact)
    # Swedish wall-clock time, as the clinician planned it (the history shows the text as is).
    add_event(enrolment, actor, "contact_planned", f"{kind} {to_local(due_at):%Y-%m-%d %H:%M}")
    return contact


def get_contact(contact_id: int) -> FollowUpContact | None:
    """One follow-up contact by id (the caller checks who may see its enrolment)."""
    return db.session.get(FollowUpContact, contact_id)


def record_outcome(contact: FollowUpContact, enrolment: Enrolment, actor: User, outcome: str, note: str,
                   rating: int | None) -> None:
    """Record that a contact was kept or missed, with a note and an optional 0-10 rating."""
    contact.outcome = outcome
    contact.note = note
    contact.rating = rating
    contact.recorded_at = utcnow()
    contact.recorded_by_id = actor.id
    add_event(enrolment, actor, f"contact_{outcome}", contact.kind)


def contacts_for(enrolment: Enrolment) -> list[FollowUpContact]:
    """Every contact of the enrolment, the latest first (one query)."""
    return list(db.session.scalars(select(FollowUpContact).options(joinedload(FollowUpContact.recorded_by))
                                   .where(FollowUpContact.enrolment_id == enrolment.id)
                                   .order_by(FollowUpContact.due_at.desc())))


_UPCOMING = (select(FollowUpContact).where(FollowUpContact.enrolment_id.in_(bindparam("upcoming_ids", expanding=True)),
                                           FollowUpContact.outcome.is_(None),
                                           FollowUpContact.due_at >= bindparam("upcoming_from"))
             .order_by(FollowUpContact.due_at))


def upcoming_query(enrolment_ids: list[int], now: datetime | None = None) -> Bound | None:
    """The query of ``upcoming_for_patient`` (None: no enrolments to ask about)."""
    if not enrolment_ids:
        return None
    return Bound(_UPCOMING, {"upcoming_ids": list(enrolment_ids),
                             "upcoming_from": day_start(local_today(now or utcnow()))})


def upcoming_for_patient(enrolment_ids: list[int], now: datetime | None = None) -> dict[int, list]:
    """Planned contacts from today on, per enrolment (for the patient's start page)."""
    result: dict[int, list] = {}
    query = upcoming_query(enrolment_ids, now)
    if query is None:
        return result
    for contact in db.session.scalars(query.statement, query.params):
        result.setdefault(contact.enrolment_id, []).append(contact)
    return result


def worklist(unit_ids_query, clinician: User, mine_only: bool = True, now: datetime | None = None):
    """Contacts due today or overdue (planned, not recorded), and those missed in the last 30 days.

    Two queries whatever the number of contacts.
    """
    now = now or utcnow()
    end_of_day = day_end(local_today(now))
    base = (select(FollowUpContact, Enrolment, User).join(Enrolment, Enrolment.id == FollowUpContact.enrolment_id)
            .join(User, User.id == Enrolment.patient_id)
            .where(Enrolment.care_unit_id.in_(unit_ids_query), Enrolment.is_open))
    if mine_only:
        base = base.where((Enrolment.responsible_clinician_id == clinician.id)
                          | (FollowUpContact.created_by_id == clinician.id))
    due = [tuple(r) for r in db.session.execute(
        base.where(FollowUpContact.outcome.is_(None), FollowUpContact.due_at < end_of_day)
        .order_by(FollowUpContact.due_at))]
    missed = [tuple(r) for r in db.session.execute(
        base.where(FollowUpContact.outcome == "missed", FollowUpContact.recorded_at >= now - timedelta(days=30))
        .order_by(FollowUpContact.due_at.desc()))]
    return due, missed


def remind_contacts(now: datetime | None = None) -> int:
    """Remind opted-in patients (content-free) the day before a planned contact, once."""
    now = now or utcnow()
    rows = db.session.execute(
        select(FollowUpContact, Enrolment).join(Enrolment, Enrolment.id == FollowUpContact.enrolment_id)
        .options(joinedload(Enrolment.patient))
        .where(FollowUpContact.outcome.is_(None), FollowUpContact.reminded_at.is_(None),
               FollowUpContact.due_at > now, FollowUpContact.due_at <= now + timedelta(hours=24),
               Enrolment.has_access,
               Enrolment.patient_id.in_(select(NotificationConsent.user_id).where(
                   NotificationConsent.kind == Kind.CONTACT_REMINDER.value,
                   NotificationConsent.is_enabled.is_(True))))
        .with_for_update(of=FollowUpContact, skip_locked=True)).unique().all()
    for contact, enrolment in rows:
        contact.reminded_at = now
        notify(enrolment.patient, Kind.CONTACT_REMINDER, {"url": external_url("auth.login"), **sender_of(enrolment)},
               channels=channels_for(enrolment.patient, Kind.CONTACT_REMINDER))
    return len(rows)


_PLANS = select(CarePlan).where(CarePlan.enrolment_id.in_(bindparam("plan_ids", expanding=True)))
_PLANS_WITH_VERSIONS = _PLANS.options(joinedload(CarePlan.versions))


def plans_query(enrolment_ids: list[int]) -> Bound | None:
    """The query of ``plans_for``, versions not loaded (None: no enrolments to ask about)."""
    if not enrolment_ids:
        return None
    return Bound(_PLANS, {"plan_ids": list(enrolment_ids)})


def plans_for(enrolment_ids: list[int]) -> dict[int, CarePlan]:
    """Plans with their versions for several enrolments, in one query."""
    query = plans_query(enrolment_ids)
    if query is None:
        return {}
    return {plan.enrolment_id: plan for plan in db.session.scalars(_PLANS_WITH_VERSIONS, query.params).unique()}
