"""What administration does when something happens elsewhere.

Connected once by ``create_app``.
"""

from __future__ import annotations

from sqlalchemy import select

from webapp.auth.models import Role, User
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.notifications.services import Kind, notify
from webapp.notifications.signals import deliveries_failed


def tell_administrators(_sender, **_extra) -> None:
    """E-mail every administrator that deliveries failed for good (no details: see the admin page)."""
    for admin in db.session.scalars(select(User).where(User.role == Role.ADMIN.value,
                                                       User.is_active_account.is_(True))):
        notify(admin, Kind.DELIVERY_FAILED, {"url": external_url("admin.index")})
    db.session.commit()


def connect() -> None:
    deliveries_failed.connect(tell_administrators)
