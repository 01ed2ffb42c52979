"""Account commands: ``flask --app webapp users …`` and ``flask --app webapp units …``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp.auth import services
from webapp.auth.models import ROLE_VALUES, CareUnit
from webapp.core.audit import security_event
from webapp.extensions import db


@click.group()
def users() -> None:
    """Create and manage user accounts."""


@users.command("create")
@click.option("--role", type=click.Choice(ROLE_VALUES), required=True)
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option("--unit", "unit_codes", multiple=True, help="Care unit code (staff); repeatable.")
@click.option("--locale", default="sv", show_default=True)
@click.option("--password", default=None, help="Set a password now instead of sending an invitation.")
@with_appcontext
def create_user_command(role, email, full_name, unit_codes, locale, password) -> None:
    """Create a user; without --password an invitation link is queued for e-mail."""
    if services.get_user_by_email(email):
        raise click.ClickException(f"a user with the e-mail address {email} already exists")
    units = []
    for code in unit_codes:
        unit = db.session.scalar(select(CareUnit).where(CareUnit.code == code))
        if unit is None:
            raise click.ClickException(f"no care unit with the code {code!r}")
        units.append(unit)
    user = services.create_user(role=role, email=email, full_name=full_name, password=password,
                                locale=locale, units=units)
    db.session.flush()
    # A new account with a role (and units) is a security event, like any role change.
    security_event("role_granted", user, f"role {role}, units {','.join(u.code for u in units) or '-'}")
    if password is None:
        services.send_invitation(user)
    db.session.commit()
    click.echo(f"Created {role} {user.email} (id {user.id})" + ("" if password else "; invitation queued"))


@users.command("reset-two-factor")
@click.argument("email")
@with_appcontext
def reset_two_factor(email: str) -> None:
    """Forget a staff member's authenticator (lost phone); they set it up at next login."""
    user = services.get_user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user with the e-mail address {email}")
    services.reset_two_factor(user)
    db.session.commit()
    click.echo(f"Two-factor authentication reset for {user.email}")


@click.group()
def units() -> None:
    """Create and list care units."""


@units.command("create")
@click.option("--code", required=True, help="Short stable code, e.g. vc-norra.")
@click.option("--name", required=True)
@with_appcontext
def create_unit_command(code: str, name: str) -> None:
    """Create a care unit."""
    try:
        unit = services.create_care_unit(code, name)
    except services.AuthError as exc:
        messages = {"unit_code_taken": f"a care unit with the code {code!r} already exists",
                    "unit_code_format": "a code is 2-63 lower-case letters, digits and hyphens, e.g. vc-norra"}
        raise click.ClickException(messages[exc.reason]) from None
    db.session.commit()
    click.echo(f"Created care unit {unit.code} (id {unit.id})")


@units.command("list")
@with_appcontext
def list_units() -> None:
    """List care units."""
    for unit in db.session.scalars(select(CareUnit).order_by(CareUnit.code)):
        click.echo(f"{unit.code}\t{unit.name}")
