"""Group programmes: create a group with its sessions, add members in one step,
move sessions, take members out."""

from __future__ import annotations

from datetime import time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from webapp.auth.services import colleagues, unit_ids_subquery, units_of
from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.dates import at_local, parse_day
from webapp.extensions import db
from webapp.groups import services
from webapp.groups.models import Group, GroupMember, GroupSession
from webapp.programme.enrolments import default_welcome
from webapp.programme.models import Enrolment

bp = Blueprint("groups", __name__, template_folder="templates")

PROBLEM_TEXT = {
    "name": _l("Give the group a name (at most 200 characters)."),
    "unit": _l("Choose one of your care units."),
    "programme": _l("Choose a programme."),
    "date": _l("Write the date as yyyy-mm-dd."),
    "time": _l("Write the time as hh:mm."),
    "per_week": _l("Choose one or two sessions a week."),
    "weeks": _l("Choose between 1 and 16 weeks."),
    "topic": _l("The topic is too long (at most 200 characters)."),
    "module": _l("Choose a module of the group's programme."),
    "pnr_format": _l("Write the personal identity number as YYYYMMDD-NNNN."),
    "pnr_date": _l("The personal identity number has a date that does not exist."),
    "pnr_checksum": _l("The personal identity number's last digit is wrong. Check for a typing error."),
    "none": _l("Fill in at least one patient."),
    "phone": _l("Write a Swedish mobile number, e.g. 070-123 45 67."),
    "too_long": _l("The text is too long."),
    "new_patient": _l("A new patient needs a name and an e-mail address."),
    "email_taken": _l("Another account already uses this e-mail address."),
    "already_open": _l("The patient already has open access to this programme."),
}


def _messages(problems: dict[str, str]) -> dict[str, str]:
    return {field: str(PROBLEM_TEXT[code]) for field, code in problems.items()}


def _group_or_404(group_id: int) -> Group:
    group = db.session.scalar(select(Group).where(Group.id == group_id,
                                                  Group.care_unit_id.in_(unit_ids_subquery(current_user))))
    if group is None:
        abort(404)
    return group


@bp.route("/clinician/groups", methods=["GET", "POST"])
@role_required("clinician")
def index():
    """The groups of the clinician's units, and a form to start a new one."""
    catalogue = get_catalogue()
    units = units_of(current_user)
    problems: dict[str, str] = {}
    values = request.form if request.method == "POST" else {}
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        if not name or len(name) > 200:
            problems["name"] = "name"
        unit = next((u for u in units if str(u.id) == request.form.get("unit_id")), None)
        if unit is None:
            problems["unit_id"] = "unit"
        programme = catalogue.programmes.get(request.form.get("programme_id", ""))
        if programme is None:
            problems["programme_id"] = "programme"
        try:
            first_day = parse_day(request.form.get("first_day", ""))
        except ValueError:
            problems["first_day"] = "date"
        try:
            clock = time.fromisoformat(request.form.get("time", ""))
        except ValueError:
            problems["time"] = "time"
        per_week = request.form.get("per_week", "")
        if per_week not in ("1", "2"):
            problems["per_week"] = "per_week"
        weeks = request.form.get("weeks", "")
        if not weeks.isdigit() or not 1 <= int(weeks) <= 16:
            problems["weeks"] = "weeks"
        if not problems:
            group = services.create_group(unit, programme, name, first_day, clock, int(per_week), int(weeks),
                                          current_user)
            db.session.commit()
            flash(_("The group is created. Now add its members."), "success")
            return redirect(url_for("groups.detail", group_id=group.id))
    groups = services.groups_in(unit_ids_subquery(current_user))
    return render_template("groups/index.html", groups=groups, units=units, programmes=catalogue.programmes,
                           values=values, problems=_messages(problems)), 400 if problems else 200


def _render_detail(group: Group, problems=None, values=None, status=200):
    catalogue = get_catalogue()
    programme = catalogue.programmes.get(group.programme_id)
    current = services.members(group)
    # Names on screen are patient data.
    log_access(current_user, "group.view", detail=f"group {group.id}, {len(current)} members")
    html = render_template("groups/detail.html", group=group, programme=programme, members=current,
                           clinicians=colleagues(current_user), rows=services.MEMBER_ROWS,
                           welcome=default_welcome(programme, current_user.locale) if programme else "",
                           problems=_messages(problems or {}), values=values or {})
    db.session.commit()
    return html, status


@bp.route("/clinician/groups/<int:group_id>")
@role_required("clinician")
def detail(group_id: int):
    """One group: its sessions (movable), its members, and a form to add members."""
    return _render_detail(_group_or_404(group_id))


@bp.route("/clinician/groups/<int:group_id>/members", methods=["POST"])
@role_required("clinician")
def add_members(group_id: int):
    """Open every listed patient's enrolment and add them to the group, all in one step."""
    group = _group_or_404(group_id)
    programme = get_catalogue().programmes.get(group.programme_id)
    if programme is None:
        abort(404)
    rows, problems = services.parse_member_rows(request.form)
    welcome = request.form.get("welcome_text", "")[:5000]
    if not problems:
        choices = {c.id: c for c in colleagues(current_user)}
        try:
            locale = request.form.get("locale", "")
            if locale not in current_app.config["LANGUAGES"]:
                locale = current_app.config["BABEL_DEFAULT_LOCALE"]
            added = services.add_members(group, programme, rows, current_user, choices, welcome, locale)
        except services.MemberProblems as exc:
            db.session.rollback()
            problems = exc.problems
        else:
            db.session.commit()
            flash(ngettext("%(num)d patient is added and invited.", "%(num)d patients are added and invited.",
                           len(added)), "success")
            return redirect(url_for("groups.detail", group_id=group.id))
    return _render_detail(db.session.get(Group, group_id), problems, request.form, 400)


@bp.route("/clinician/groups/<int:group_id>/sessions/<int:session_id>", methods=["POST"])
@role_required("clinician")
def move_session(group_id: int, session_id: int):
    """Change a session's date, time, topic or module; members' modules follow."""
    group = _group_or_404(group_id)
    session = db.session.get(GroupSession, session_id)
    if session is None or session.group_id != group.id:
        abort(404)
    programme = get_catalogue().programmes.get(group.programme_id)
    problems = {}
    try:
        starts_at = at_local(parse_day(request.form.get("day", "")),
                                   time.fromisoformat(request.form.get("time", "")))
    except ValueError:
        problems[f"day_{session.id}"] = "date"
    topic = request.form.get("topic", "").strip()
    if len(topic) > 200:
        problems[f"topic_{session.id}"] = "topic"
    module_id = request.form.get("module_id") or None
    if module_id and (programme is None or programme.module(module_id) is None):
        problems[f"module_{session.id}"] = "module"
    if problems:
        for message in _messages(problems).values():
            flash(message, "error")
        return redirect(url_for("groups.detail", group_id=group.id) + f"#session-{session.id}")
    session.starts_at, session.topic, session.module_id = starts_at, topic, module_id
    db.session.flush()
    db.session.expire(group, ["sessions"])
    services.sync_schedules(group)
    db.session.commit()
    flash(_("The session is changed; the members' modules follow it."), "success")
    return redirect(url_for("groups.detail", group_id=group.id) + f"#session-{session.id}")


@bp.route("/clinician/groups/<int:group_id>/members/<int:member_id>/remove", methods=["POST"])
@role_required("clinician")
def remove_member(group_id: int, member_id: int):
    """Move a patient out of the group; their own enrolment stays open."""
    group = _group_or_404(group_id)
    member = db.session.get(GroupMember, member_id)
    if member is None or member.group_id != group.id or member.left_at is not None:
        abort(404)
    services.remove_member(member, db.session.get(Enrolment, member.enrolment_id), current_user)
    db.session.commit()
    flash(_("The patient is no longer in the group. Their own access to the programme is unchanged."), "success")
    return redirect(url_for("groups.detail", group_id=group.id))
