"""Administrator pages: units and staff, the access log, aggregate follow-up."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from webapp.admin import forms, services
from webapp.auth import services as accounts
from webapp.auth.forms import EmptyForm
from webapp.auth.models import CareUnit, Membership, User
from webapp.auth.services import units_of
from webapp.auth.views import fresh_login_required
from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.audit import security_event
from webapp.core.dates import parse_filter_day
from webapp.core.db import utcnow
from webapp.core.forms import flash_problems
from webapp.core.i18n import LANGUAGE_NAMES
from webapp.extensions import db
from webapp.notifications.services import failed_deliveries, last_heartbeat

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


def _date_arg(name: str) -> date | None:
    try:
        return parse_filter_day(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/")
@role_required("admin")
def index():
    """Care units, staff accounts, the scheduler's heartbeat and failed deliveries."""
    beat = last_heartbeat()
    scheduler_ok = beat is not None and utcnow() - beat < timedelta(minutes=2)
    return render_template("admin/index.html", units=services.units_with_counts(), staff=services.staff(),
                           last_beat=beat, scheduler_ok=scheduler_ok, failed=failed_deliveries())


@bp.route("/access-log")
@role_required("admin")
def access_log():
    """The access log, filterable by patient, staff member and period; CSV with ?format=csv."""
    filters = services.AccessLogFilters(patient=request.args.get("patient", "")[:40],
                                        staff=request.args.get("staff", "")[:254],
                                        start=_date_arg("start"), end=_date_arg("end"))
    # Reading the access log is itself a security event (who looked, for what).
    detail = (f"patient {filters.patient!r} staff {filters.staff!r} {filters.start or ''}..{filters.end or ''}"
              f"{' csv' if request.args.get('format') == 'csv' else ''}")
    if request.args.get("format") == "csv":
        # Written before the commit, which expires the rows: reading them after would cost a query per row.
        body = services.access_log_csv(services.access_log(filters, limit=None))
        security_event("access_log_read", current_user._get_current_object(), detail)
        db.session.commit()
        return Response(body, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=lotsa-access-log.csv"})
    html = render_template("admin/access_log.html", rows=services.readable_access_log(services.access_log(filters)),
                           filters=filters)
    security_event("access_log_read", current_user._get_current_object(), detail)
    db.session.commit()
    return html


@bp.route("/follow-up")
@role_required("admin", "clinician")
def follow_up():
    """Aggregate follow-up per care unit and programme; no patient identities."""
    if current_user.role == "admin":
        units = list(db.session.scalars(db.select(CareUnit).order_by(CareUnit.name)))
    else:
        units = units_of(current_user)
    catalogue = get_catalogue()
    rows = services.follow_up(units, catalogue)
    if request.args.get("format") == "csv":
        return Response(services.follow_up_csv(rows, catalogue), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=lotsa-follow-up.csv"})
    return render_template("admin/follow_up.html", rows=[services.follow_up_cells(row) for row in rows],
                           catalogue=catalogue, forms=catalogue.forms, min_cell=services.MIN_CELL, today=utcnow())


# --- care units and staff accounts (fresh login: these change who may see patients) ---

# The services' reasons for refusing a change, in words; a field name when the message belongs to one.
PROBLEMS = {
    "unit_code_taken": ("code", _l("Another care unit already has this code.")),
    "unit_code_format": ("code", _l("A code is 2 to 63 lower-case letters a–z, digits and hyphens, e.g. vc-norra.")),
    "unit_inactive": ("unit", _l("The care unit is deactivated.")),
    "email_taken": ("email", _l("There is already an account with this e-mail address.")),
    "not_staff": (None, _l("This is not a staff account.")),
    "already_member": ("unit", _l("They are already a member of this care unit.")),
    "not_a_member": (None, _l("They are not a member of this care unit.")),
    "already_inactive": (None, _l("The account is already deactivated.")),
    "own_account": (None, _l("You cannot do this to your own account: ask another administrator.")),
    "hsa_format": ("hsa_id", _l("An HSA-id is SE, ten digits, a dash and letters or digits, e.g. SE2321000016-1234.")),
    "hsa_taken": ("hsa_id", _l("Another account already has this HSA-id.")),
}


def _refused(form, error: accounts.AuthError) -> None:
    """A refused change as a field message (or a flash when it belongs to no field)."""
    name, message = PROBLEMS.get(error.reason, (None, error.reason))
    if form is not None and name and name in form:
        form[name].errors = [*form[name].errors, str(message)]
    else:
        flash(str(message), "error")


def _unit_or_404(unit_id: int) -> CareUnit:
    unit = db.session.get(CareUnit, unit_id)
    if unit is None:
        abort(404)
    return unit


def _staff_or_404(staff_id: int) -> User:
    """A staff account (patients are not administered here: 404)."""
    user = db.session.get(User, staff_id)
    if user is None or not user.is_staff:
        abort(404)
    return user


def _me() -> User:
    return current_user._get_current_object()


@bp.route("/units/new", methods=["GET", "POST"])
@role_required("admin")
@fresh_login_required
def new_unit():
    """Create a care unit."""
    form = forms.UnitForm()
    if form.validate_on_submit():
        try:
            unit = accounts.create_care_unit(form.code.data, form.name.data, by=_me())
        except accounts.AuthError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("The care unit %(name)s is created.", name=unit.name), "success")
            return redirect(url_for("admin.unit", unit_id=unit.id))
    return render_template("admin/unit_new.html", form=form), 400 if form.errors else 200


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@role_required("admin")
@fresh_login_required
def unit(unit_id: int):
    """A care unit: its name (renamed here), its staff, deactivation."""
    unit = _unit_or_404(unit_id)
    form = forms.RenameUnitForm(obj=unit if request.method == "GET" else None)
    if form.validate_on_submit():
        accounts.rename_care_unit(unit, form.name.data, by=_me())
        db.session.commit()
        flash(_("The care unit is renamed."), "success")
        return redirect(url_for("admin.unit", unit_id=unit.id))
    members = list(db.session.scalars(select(User).join(Membership).where(Membership.care_unit_id == unit.id)
                                      .order_by(User.full_name)))
    return render_template("admin/unit.html", unit=unit, form=form, members=members,
                           button=EmptyForm()), 400 if form.errors else 200


@bp.route("/units/<int:unit_id>/deactivate", methods=["POST"])
@role_required("admin")
@fresh_login_required
def deactivate_unit(unit_id: int):
    """Deactivate a care unit (no new patients or members), or take it back into use."""
    unit = _unit_or_404(unit_id)
    if EmptyForm().validate_on_submit():
        if request.form.get("reactivate"):
            accounts.reactivate_care_unit(unit, by=_me())
            flash(_("The care unit is in use again."), "success")
        else:
            try:
                accounts.deactivate_care_unit(unit, by=_me())
                flash(_("The care unit is deactivated: it takes no new patients or staff."), "success")
            except accounts.AuthError as error:
                _refused(None, error)
        db.session.commit()
    return redirect(url_for("admin.unit", unit_id=unit.id))


def _invite_choices(form) -> None:
    form.units.choices = [(u.id, u.name) for u in db.session.scalars(
        select(CareUnit).where(CareUnit.deactivated_at.is_(None)).order_by(CareUnit.name))]
    form.locale.choices = [(code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["LANGUAGES"]]


@bp.route("/staff/new", methods=["GET", "POST"])
@role_required("admin")
@fresh_login_required
def invite_staff():
    """Invite a staff member: an account with a role and care units; the link goes by e-mail."""
    form = forms.InviteForm()
    _invite_choices(form)
    if form.validate_on_submit():
        units = [db.session.get(CareUnit, unit_id) for unit_id in form.units.data]
        try:
            user = accounts.invite_staff(role=form.role.data, email=form.email.data, full_name=form.full_name.data,
                                         units=units, locale=form.locale.data, by=_me())
        except accounts.AuthError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("The invitation is on its way to %(email)s.", email=user.email), "success")
            return redirect(url_for("admin.staff_member", staff_id=user.id))
    return render_template("admin/staff_new.html", form=form), 400 if form.errors else 200


def _render_staff(user: User, status: int = 200, **form_overrides):
    unit_ids = {m.care_unit_id for m in user.memberships}
    member_of = [m.care_unit for m in sorted(user.memberships, key=lambda m: m.care_unit.name)]
    add = form_overrides.get("add") or forms.AddUnitForm(formdata=None)
    add.unit.choices = [(u.id, u.name) for u in db.session.scalars(
        select(CareUnit).where(CareUnit.deactivated_at.is_(None)).order_by(CareUnit.name)) if u.id not in unit_ids]
    return render_template(
        "admin/staff.html", user=user, member_of=member_of,
        role_form=form_overrides.get("role") or forms.RoleForm(formdata=None, role=user.role),
        add_form=add, hsa_form=form_overrides.get("hsa") or forms.HsaIdForm(formdata=None, hsa_id=user.hsa_id),
        button=EmptyForm(), responsible=services.still_responsible(user),
        sessions=len(accounts.active_sessions(user)), is_me=user.id == current_user.id), status


@bp.route("/staff/<int:staff_id>")
@role_required("admin")
@fresh_login_required
def staff_member(staff_id: int):
    """A staff account: role, care units, HSA-id, second factor, deactivation."""
    return _render_staff(_staff_or_404(staff_id))


def _ended(count: int) -> str:
    return ngettext("%(num)d session ended.", "%(num)d sessions ended.", count)


@bp.route("/staff/<int:staff_id>/role", methods=["POST"])
@role_required("admin")
@fresh_login_required
def set_role(staff_id: int):
    """Change a staff member's role (their sessions end)."""
    user = _staff_or_404(staff_id)
    form = forms.RoleForm()
    if form.validate_on_submit():
        try:
            ended = accounts.set_role(user, form.role.data, by=_me())
        except accounts.AuthError as error:
            _refused(None, error)
        else:
            db.session.commit()
            flash(_("The role is changed.") + " " + _ended(ended), "success")
    else:
        flash_problems(form)
    return redirect(url_for("admin.staff_member", staff_id=user.id))


@bp.route("/staff/<int:staff_id>/units", methods=["POST"])
@role_required("admin")
@fresh_login_required
def add_unit(staff_id: int):
    """Make a staff member a member of one more care unit."""
    user = _staff_or_404(staff_id)
    form = forms.AddUnitForm()
    form.unit.choices = [(u.id, u.name) for u in db.session.scalars(select(CareUnit))]
    if form.validate_on_submit():
        try:
            accounts.add_to_unit(user, db.session.get(CareUnit, form.unit.data), by=_me())
        except accounts.AuthError as error:
            _refused(None, error)
        else:
            db.session.commit()
            flash(_("They are now a member of the care unit."), "success")
    else:
        flash_problems(form)
    return redirect(url_for("admin.staff_member", staff_id=user.id))


@bp.route("/staff/<int:staff_id>/units/<int:unit_id>/remove", methods=["POST"])
@role_required("admin")
@fresh_login_required
def remove_unit(staff_id: int, unit_id: int):
    """Take a staff member out of a care unit: its patients are out of their reach on their next request."""
    user, unit = _staff_or_404(staff_id), _unit_or_404(unit_id)
    if EmptyForm().validate_on_submit():
        try:
            accounts.remove_from_unit(user, unit, by=_me())
        except accounts.AuthError as error:
            _refused(None, error)
        else:
            left = services.still_responsible(user, unit.id)
            db.session.commit()
            flash(_("Removed from %(unit)s: its patients are out of their reach from their next click on.",
                    unit=unit.name), "success")
            if left:
                flash(ngettext("%(num)d open enrolment at this unit still names them as responsible clinician: "
                               "hand it over on the enrolment page.",
                               "%(num)d open enrolments at this unit still name them as responsible clinician: "
                               "hand them over on the enrolment page.", left), "info")
    return redirect(url_for("admin.staff_member", staff_id=user.id))


@bp.route("/staff/<int:staff_id>/hsa-id", methods=["POST"])
@role_required("admin")
@fresh_login_required
def set_hsa_id(staff_id: int):
    """Set or remove the HSA-id a staff member's SITHS login is matched by."""
    user = _staff_or_404(staff_id)
    form = forms.HsaIdForm()
    if form.validate_on_submit():
        try:
            accounts.set_hsa_id(user, form.hsa_id.data, by=_me())
        except accounts.AuthError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("The HSA-id is saved.") if user.hsa_id else _("The HSA-id is removed."), "success")
            return redirect(url_for("admin.staff_member", staff_id=user.id))
    # Shown again with what was typed and the message beside the field.
    return _render_staff(user, 400, hsa=form)


@bp.route("/staff/<int:staff_id>/two-factor/reset", methods=["POST"])
@role_required("admin")
@fresh_login_required
def reset_two_factor(staff_id: int):
    """Forget a staff member's authenticator (a lost phone); they set up a new one at their next login."""
    user = _staff_or_404(staff_id)
    if EmptyForm().validate_on_submit():
        ended = accounts.reset_two_factor(user, by=_me())
        db.session.commit()
        flash(_("The second factor is reset: they set up a new one at their next login.") + " " + _ended(ended),
              "success")
    return redirect(url_for("admin.staff_member", staff_id=user.id))


@bp.route("/staff/<int:staff_id>/deactivate", methods=["POST"])
@role_required("admin")
@fresh_login_required
def deactivate_staff(staff_id: int):
    """Close a staff account: no login from now on, every session ended."""
    user = _staff_or_404(staff_id)
    if EmptyForm().validate_on_submit():
        try:
            ended = accounts.deactivate(user, by=_me())
        except accounts.AuthError as error:
            _refused(None, error)
        else:
            left = services.still_responsible(user)
            db.session.commit()
            flash(_("The account is deactivated.") + " " + _ended(ended), "success")
            if left:
                flash(ngettext("%(num)d open enrolment still names them as responsible clinician: hand it over.",
                               "%(num)d open enrolments still name them as responsible clinician: hand them over.",
                               left), "info")
    return redirect(url_for("admin.staff_member", staff_id=user.id))
