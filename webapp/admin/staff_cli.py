"""Staff accounts: ``flask --app webapp staff set-hsa-id``, ``staff remove-from-unit``, ``staff deactivate``.

Removal takes effect on the person's next request (access follows membership);
deactivation ends every session at once. The enrolments that still name them
as responsible clinician are counted, so the unit can hand them over (the
patients keep their access: it follows the care unit, not the person).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp.admin.services import still_responsible
from webapp.auth import services
from webapp.auth.models import CareUnit
from webapp.extensions import db


@click.group()
def staff() -> None:
    """Staff accounts: HSA-ids for SITHS login, care units, closing accounts."""


def _person(email: str):
    user = services.get_user_by_email(email)
    if user is None or not user.is_staff:
        raise click.ClickException(f"no staff account with the e-mail address {email}")
    return user


@staff.command("set-hsa-id")
@click.argument("email")
@click.argument("hsa_id", required=False)
@click.option("--remove", is_flag=True, help="Take the HSA-id away (no more SITHS login for this account).")
@with_appcontext
def set_hsa_id(email: str, hsa_id: str | None, remove: bool) -> None:
    """Set the HSA-id a staff member's SITHS e-ID login is matched by (e.g. SE2321000016-1234)."""
    user = _person(email)
    if not remove and not hsa_id:
        raise click.UsageError("give an HSA-id, or --remove")
    try:
        services.set_hsa_id(user, None if remove else hsa_id)
    except services.AuthError as exc:
        messages = {"hsa_format": "an HSA-id is SE, ten digits, a dash and letters or digits (SE2321000016-1234)",
                    "hsa_taken": "another account already has this HSA-id"}
        raise click.ClickException(messages.get(exc.reason, exc.reason)) from None
    db.session.commit()
    click.echo(f"{email}: HSA-id removed." if remove else f"{email}: HSA-id set to {user.hsa_id}.")


@staff.command("remove-from-unit")
@click.argument("email")
@click.option("--unit", "unit_code", required=True, help="Care unit code, e.g. vc-norra.")
@with_appcontext
def remove_from_unit(email: str, unit_code: str) -> None:
    """Take a staff member out of one care unit; they lose its patients at once."""
    user = _person(email)
    unit = db.session.scalar(select(CareUnit).where(CareUnit.code == unit_code))
    if unit is None:
        raise click.ClickException(f"no care unit with the code {unit_code!r}")
    try:
        services.remove_from_unit(user, unit)
    except services.AuthError:
        raise click.ClickException(f"{email} is not a member of {unit_code}") from None
    left = still_responsible(user, unit.id)
    db.session.commit()
    click.echo(f"Removed {email} from {unit_code}; its patients are out of their reach from their next request.")
    if left:
        click.echo(f"{left} open enrolments at {unit_code} still name them as responsible clinician: "
                   "hand them over on the enrolment page.")


@staff.command("deactivate")
@click.argument("email")
@with_appcontext
def deactivate(email: str) -> None:
    """Close a staff account: no login from now on, every session ended, unused links void."""
    user = _person(email)
    try:
        ended = services.deactivate(user)
    except services.AuthError:
        raise click.ClickException(f"{email} is already deactivated") from None
    left = still_responsible(user)
    db.session.commit()
    click.echo(f"Deactivated {email}; {ended} sessions ended.")
    if left:
        click.echo(f"{left} open enrolments still name them as responsible clinician: hand them over.")
