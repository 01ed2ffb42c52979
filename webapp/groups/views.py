"""Group programmes: create a group with its sessions, add members in one step,
move sessions, take members out."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from webapp.auth.services import colleagues, unit_ids_subquery, units_of
from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.dates import to_local
from webapp.extensions import db
from webapp.groups import forms, services
from webapp.groups.models import Group, GroupMember, GroupSession
from webapp.programme.enrolments import default_welcome
from webapp.programme.models import Enrolment

bp = Blueprint("groups", __name__, template_folder="templates")

# What the problem codes of services.add_members mean to the clinician.
MEMBER_PROBLEMS = {
    "new_patient": _l("A new patient needs a name and an e-mail address."),
    "email_taken": _l("Another account already uses this e-mail address."),
    "already_open": _l("The patient already has open access to this programme."),
}


def _group_or_404(group_id: int) -> Group:
    """The group, if it belongs to one of the clinician's care units; else 404."""
    group = db.session.scalar(select(Group).where(Group.id == group_id,
                                                  Group.care_unit_id.in_(unit_ids_subquery(current_user))))
    if group is None:
        abort(404)
    return group


def _module_choices(programme) -> list[tuple[str, str]]:
    """The modules a session can open: the programme's published ones, in the reader's language."""
    if programme is None:
        return []
    locale = str(get_locale())
    return [(m.id, f"{m.position}. {m.version(locale)[0].title}") for m in programme.published_modules]


def _session_form(session: GroupSession, modules) -> forms.SessionForm:
    """A session's form filled in with what is stored (not with what was posted)."""
    local = to_local(session.starts_at)
    return forms.SessionForm(formdata=None, session_id=session.id, modules=modules, day=local.date(),
                             time=local.time(), topic=session.topic, module_id=session.module_id or "")


@bp.route("/clinician/groups", methods=["GET", "POST"])
@role_required("clinician")
def index():
    """The groups of the clinician's units, and a form to start a new one."""
    catalogue = get_catalogue()
    units = units_of(current_user)
    form = forms.NewGroupForm(units=units, programmes=catalogue.programmes.values(), locale=str(get_locale()))
    if form.validate_on_submit():
        unit = next(u for u in units if u.id == form.unit_id.data)
        group = services.create_group(unit, catalogue.programmes[form.programme_id.data], form.name.data,
                                      form.first_day.data, form.time.data, form.per_week.data, form.weeks.data,
                                      current_user)
        db.session.commit()
        flash(_("The group is created. Now add its members."), "success")
        return redirect(url_for("groups.detail", group_id=group.id))
    groups = services.groups_in(unit_ids_subquery(current_user))
    return (render_template("groups/index.html", groups=groups, programmes=catalogue.programmes, form=form),
            400 if form.is_submitted() else 200)


def _render_detail(group: Group, members_form=None, session_form=None, status=200):
    """The group page; a refused form is shown again with what was typed, the others as stored."""
    programme = get_catalogue().programmes.get(group.programme_id)
    current = services.members(group)
    # Names on screen are patient data.
    log_access(current_user, "group.view", detail=f"group={group.id} members={len(current)}",
               patient_ids=[patient.id for _member, _enrolment, patient in current])
    if members_form is None:
        members_form = forms.AddMembersForm(
            formdata=None, clinicians=colleagues(current_user), responsible=current_user.id,
            welcome_text=default_welcome(programme, current_user.locale) if programme else "")
    modules = _module_choices(programme)
    session_forms = {s.id: session_form if session_form is not None and session_form.session_id == s.id
                     else _session_form(s, modules) for s in group.sessions}
    html = render_template("groups/detail.html", group=group, programme=programme, members=current,
                           members_form=members_form, session_forms=session_forms,
                           remove_form=forms.RemoveMemberForm(formdata=None))
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
    clinicians = colleagues(current_user)
    form = forms.AddMembersForm(clinicians=clinicians, responsible=current_user.id)
    if form.validate_on_submit():
        try:
            added = services.add_members(group, programme, form.member_rows(), current_user,
                                         {c.id: c for c in clinicians}, form.welcome_text.data or "",
                                         form.locale.data)
        except services.MemberProblems as exc:
            db.session.rollback()
            form.add_problems(exc.problems, MEMBER_PROBLEMS)
        else:
            db.session.commit()
            flash(ngettext("%(num)d patient is added and invited.", "%(num)d patients are added and invited.",
                           len(added)), "success")
            return redirect(url_for("groups.detail", group_id=group.id))
    # After a rollback the group is loaded again.
    return _render_detail(db.session.get(Group, group_id), members_form=form, status=400)


@bp.route("/clinician/groups/<int:group_id>/sessions/<int:session_id>", methods=["POST"])
@role_required("clinician")
def move_session(group_id: int, session_id: int):
    """Change a session's date, time, topic or module; members' modules follow."""
    group = _group_or_404(group_id)
    session = db.session.get(GroupSession, session_id)
    if session is None or session.group_id != group.id:
        abort(404)
    form = forms.SessionForm(session_id=session.id,
                             modules=_module_choices(get_catalogue().programmes.get(group.programme_id)))
    if not form.validate_on_submit():
        return _render_detail(group, session_form=form, status=400)
    services.move_session(group, session, form.day.data, form.time.data, form.topic.data or "",
                          form.module_id.data or None)
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
    if not forms.RemoveMemberForm().validate_on_submit():
        abort(400)
    services.remove_member(member, db.session.get(Enrolment, member.enrolment_id), current_user)
    db.session.commit()
    flash(_("The patient is no longer in the group. Their own access to the programme is unchanged."), "success")
    return redirect(url_for("groups.detail", group_id=group.id))
