"""The patient's notification settings and mobile-number confirmation.

The blueprint also carries the message templates (notifications/<kind>.<channel>.txt)
that the scheduler renders.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from webapp.core.access import role_required
from webapp.core.db import utcnow
from webapp.core.security import constant_time_equal, token_hash
from webapp.extensions import db, limiter
from webapp.notifications.models import NotificationConsent
from webapp.notifications.services import OPTIONAL_KINDS, Kind, notify

bp = Blueprint("notifications", __name__, template_folder="templates")

CODE_MINUTES = 10


def _consents() -> dict[tuple[str, str], NotificationConsent]:
    rows = db.session.scalars(select(NotificationConsent).where(NotificationConsent.user_id == current_user.id))
    return {(row.kind, row.channel): row for row in rows}


@bp.route("/account/notifications", methods=["GET", "POST"])
@role_required("patient")
def settings():
    """Choose which notifications to get by e-mail and SMS; each yes is recorded with its time."""
    consents = _consents()
    if request.method == "POST":
        now = utcnow()
        chosen = set(request.form.getlist("choice"))
        for kind in OPTIONAL_KINDS:
            for channel in ("email", "sms"):
                wanted = f"{kind.value}:{channel}" in chosen
                if channel == "sms" and wanted and not current_user.phone_verified_at:
                    flash(_("Confirm your mobile number before choosing SMS."), "error")
                    wanted = False
                row = consents.get((kind.value, channel))
                if row is None:
                    if not wanted:
                        continue
                    row = NotificationConsent(user_id=current_user.id, kind=kind.value, channel=channel)
                    db.session.add(row)
                if wanted and not row.is_enabled:
                    row.consented_at = now
                row.is_enabled = wanted
                row.updated_at = now
        db.session.commit()
        flash(_("Your choices are saved."), "success")
        return redirect(url_for("notifications.settings"))
    return render_template("notifications/settings.html", kinds=OPTIONAL_KINDS, consents=consents)


@bp.route("/account/phone/code", methods=["POST"])
@role_required("patient")
@limiter.limit("5 per hour", key_func=lambda: f"phone:{current_user.get_id()}")
def send_phone_code():
    """Text a six-digit code to the patient's mobile number."""
    if not current_user.phone:
        flash(_("There is no mobile number on your account. Ask your care unit to add it."), "error")
        return redirect(url_for("notifications.settings"))
    code = f"{secrets.randbelow(1_000_000):06d}"
    current_user.phone_code_hash = token_hash(f"{current_user.id}:{code}")
    current_user.phone_code_expires_at = utcnow() + timedelta(minutes=CODE_MINUTES)
    # Sent at once, quiet hours or not: the patient is waiting for it.
    notify(current_user, Kind.PHONE_CODE, {"code": code}, channels=("sms",), due_at=utcnow(), immediate=True)
    db.session.commit()
    flash(_("We have sent a code to your mobile. Type it in below."), "success")
    return redirect(url_for("notifications.settings") + "#phone")


@bp.route("/account/phone/verify", methods=["POST"])
@role_required("patient")
@limiter.limit("10 per hour", key_func=lambda: f"phone-verify:{current_user.get_id()}")
def verify_phone():
    """Confirm the mobile number with the code."""
    code = "".join(ch for ch in request.form.get("code", "") if ch.isdigit())
    user = current_user
    valid = (user.phone_code_hash and user.phone_code_expires_at and user.phone_code_expires_at > utcnow()
             and constant_time_equal(user.phone_code_hash, token_hash(f"{user.id}:{code}")))
    if not valid:
        flash(_("The code is wrong or too old. Ask for a new code."), "error")
        return redirect(url_for("notifications.settings") + "#phone")
    user.phone_verified_at = utcnow()
    user.phone_code_hash = None
    user.phone_code_expires_at = None
    db.session.commit()
    flash(_("Your mobile number is confirmed."), "success")
    return redirect(url_for("notifications.settings"))
