"""Groups: a shared session schedule, members enrolled in one step, modules
opening in step with the sessions. Members never see each other."""

from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

from webapp.auth.models import CareUnit, User
from webapp.core.dates import at_local
from webapp.core.db import utcnow
from webapp.core.queries import Bound
from webapp.extensions import db
from webapp.groups.models import Group, GroupMember, GroupSession
from webapp.programme.enrolments import EnrolmentError, add_event, find_patient, open_enrolment, register_patient
from webapp.programme.models import Enrolment, ScheduleEntry


def create_group(unit: CareUnit, programme, name: str, first_day: date, clock: time, per_week: int, weeks: int,
                 actor: User) -> Group:
    """A group with its sessions: ``per_week`` (1 or 2) a week for ``weeks`` weeks.

    The first session of each week opens the programme's next module; the second
    session of a week is three days later.
    """
    group = Group(care_unit_id=unit.id, programme_id=programme.id, name=name, created_by_id=actor.id,
                  created_at=utcnow())
    db.session.add(group)
    modules = [m.id for m in programme.published_modules]
    for week in range(weeks):
        for index in range(per_week):
            day = first_day + timedelta(days=7 * week + 3 * index)
            module_id = modules[week] if index == 0 and week < len(modules) else None
            group.sessions.append(GroupSession(starts_at=at_local(day, clock), module_id=module_id, topic=""))
    return group


def members(group: Group, include_left: bool = False) -> list[tuple[GroupMember, Enrolment, User]]:
    """The group's members with their enrolments and accounts, by name (current members unless asked)."""
    query = (select(GroupMember, Enrolment, User).join(Enrolment, Enrolment.id == GroupMember.enrolment_id)
             .join(User, User.id == Enrolment.patient_id).where(GroupMember.group_id == group.id)
             .order_by(User.full_name))
    if not include_left:
        query = query.where(GroupMember.left_at.is_(None))
    return [tuple(row) for row in db.session.execute(query)]


def sync_schedules(group: Group, enrolment_ids: list[int] | None = None) -> None:
    """Open each session's module for the current members when the session starts."""
    if enrolment_ids is None:
        enrolment_ids = [e.id for _m, e, _u in members(group)]
    if not enrolment_ids:
        return
    opening = {s.module_id: s.starts_at for s in group.sessions if s.module_id}
    existing = {(e.enrolment_id, e.module_id): e for e in db.session.scalars(select(ScheduleEntry).where(
        ScheduleEntry.enrolment_id.in_(enrolment_ids), ScheduleEntry.module_id.in_(list(opening))))}
    now = utcnow()
    for enrolment_id in enrolment_ids:
        for module_id, starts_at in opening.items():
            entry = existing.get((enrolment_id, module_id))
            if entry is None:
                entry = ScheduleEntry(enrolment_id=enrolment_id, module_id=module_id, is_skipped=False)
                db.session.add(entry)
            entry.opens_at = starts_at
            entry.updated_at = now


class MemberProblems(Exception):
    """Rows that could not be added: field name (``pnr_2``) -> problem code."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("members")
        self.problems = problems


def add_members(group: Group, programme, rows: list[dict], actor: User, responsible_choices: dict[int, User],
                welcome_text: str, locale: str) -> list[Enrolment]:
    """Open every row's enrolment (own invitation, welcome text, responsible clinician) and add it to the group.

    Rows come from ``forms.AddMembersForm.member_rows()``: personal number and
    mobile already normalised, ``responsible`` a clinician's id. All or nothing:
    any row's problem raises MemberProblems and the caller rolls back.
    """
    problems: dict[str, str] = {}
    enrolments = []
    unit = db.session.get(CareUnit, group.care_unit_id)
    for row in rows:
        n = row["n"]
        patient = find_patient(row["pnr"])
        try:
            if patient is None:
                if not row["name"] or "@" not in row["email"]:
                    problems[f"name_{n}" if not row["name"] else f"email_{n}"] = "new_patient"
                    continue
                patient = register_patient(personal_number=row["pnr"], full_name=row["name"], email=row["email"],
                                           phone=row["phone"] or None, locale=locale)
                db.session.flush()
            # The clinician adding the members is responsible unless a colleague is chosen.
            responsible = responsible_choices.get(row["responsible"]) or actor
            enrolment = open_enrolment(patient=patient, programme=programme, unit=unit, clinician=actor,
                                       responsible=responsible, recommended_days=programme.recommended_days,
                                       welcome_text=welcome_text, skipped=[])
        except EnrolmentError as exc:
            problems[f"email_{n}" if exc.code == "email_taken" else f"pnr_{n}"] = exc.code
            continue
        db.session.add(GroupMember(group_id=group.id, enrolment_id=enrolment.id, added_at=utcnow()))
        add_event(enrolment, actor, "group_joined", group.name)
        enrolments.append(enrolment)
    if problems:
        raise MemberProblems(problems)
    db.session.flush()
    sync_schedules(group, [e.id for e in enrolments])
    return enrolments


def move_session(group: Group, session: GroupSession, day: date, clock: time, topic: str,
                 module_id: str | None) -> None:
    """Move a session to ``clock`` on ``day`` (Swedish time), with its topic and module; members' modules follow."""
    session.starts_at, session.topic, session.module_id = at_local(day, clock), topic, module_id
    db.session.flush()
    # The group's sessions are sorted by time: load them again in their new order.
    db.session.expire(group, ["sessions"])
    sync_schedules(group)


def remove_member(member: GroupMember, enrolment: Enrolment, actor: User) -> None:
    """Take the patient out of the group; their own enrolment and schedule stay."""
    member.left_at = utcnow()
    add_event(enrolment, actor, "group_left", member.group.name)


def groups_in(unit_ids_query) -> list[tuple[Group, int]]:
    """Groups in the given units with their current member counts (two queries)."""
    groups = list(db.session.scalars(select(Group).options(joinedload(Group.care_unit), joinedload(Group.sessions))
                                     .where(Group.care_unit_id.in_(unit_ids_query))
                                     .order_by(Group.created_at.desc())).unique())
    counts = dict(db.session.execute(
        select(GroupMember.group_id, func.count()).where(GroupMember.group_id.in_([g.id for g in groups]),
                                                         GroupMember.left_at.is_(None))
        .group_by(GroupMember.group_id)).all()) if groups else {}
    return [(g, counts.get(g.id, 0)) for g in groups]


_MEMBERSHIPS = select(GroupMember).where(GroupMember.enrolment_id.in_(bindparam("member_ids", expanding=True)),
                                         GroupMember.left_at.is_(None))
_MEMBERSHIPS_WITH_SESSIONS = _MEMBERSHIPS.options(joinedload(GroupMember.group).joinedload(Group.sessions))


def sessions_query(enrolment_ids: list[int]) -> Bound | None:
    """The query of ``sessions_for``, groups not loaded (None: no enrolments to ask about)."""
    if not enrolment_ids:
        return None
    return Bound(_MEMBERSHIPS, {"member_ids": list(enrolment_ids)})


def sessions_for(enrolment_ids: list[int]) -> dict[int, tuple[Group, list[GroupSession]]]:
    """The patient's own group and its sessions, per enrolment (nothing about other members)."""
    query = sessions_query(enrolment_ids)
    if query is None:
        return {}
    result = {}
    for member in db.session.scalars(_MEMBERSHIPS_WITH_SESSIONS, query.params).unique():
        result[member.enrolment_id] = (member.group, member.group.sessions)
    return result
