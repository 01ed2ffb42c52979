"""The patient's notification settings and mobile-number confirmation.

The blueprint also carries the message templates (notifications/<kind>.<channel>.txt)
that the scheduler renders.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.core.access import role_required
from webapp.extensions import db, limiter
from webapp.notifications import forms, services
from webapp.notifications.services import optional_kinds_for

bp = Blueprint("notifications", __name__, template_folder="templates")


def _settings_form(consents, **kwargs) -> forms.SettingsForm:
    """The choices form, ticked as the user last chose unless the posted form is shown again."""
    return forms.SettingsForm(choices=services.consent_choices(current_user), choice=services.chosen(consents), **kwargs)


def _render(consents, form=None, verify_form=None, status=200):
    """The settings page; a refused form is shown again with what was sent, the others empty."""
    html = render_template("notifications/settings.html", kinds=optional_kinds_for(current_user), consents=consents,
                           form=form or _settings_form(consents, formdata=None),
                           code_form=forms.PhoneCodeForm(formdata=None),
                           verify_form=verify_form or forms.VerifyPhoneForm(formdata=None))
    return html, status


@bp.route("/account/notifications", methods=["GET", "POST"])
@role_required("patient", "clinician")
def settings():
    """Choose which notifications to get by e-mail and SMS; each yes is recorded with its time."""
    consents = services.consents_of(current_user)
    form = _settings_form(consents)
    if form.validate_on_submit():
        if not services.save_consents(current_user, form.choice.data, consents):
            flash(_("Confirm your mobile number before choosing SMS."), "error")
        db.session.commit()
        flash(_("Your choices are saved."), "success")
        return redirect(url_for("notifications.settings"))
    return _render(consents, form=form, status=400 if form.is_submitted() else 200)


@bp.route("/account/phone/code", methods=["POST"])
@role_required("patient")
@limiter.limit("5 per hour", key_func=lambda: f"phone:{current_user.get_id()}")
def send_phone_code():
    """Text a six-digit code to the patient's mobile number."""
    if not forms.PhoneCodeForm().validate_on_submit():
        abort(400)
    if not services.send_phone_code(current_user):
        flash(_("There is no mobile number on your account. Ask your care unit to add it."), "error")
        return redirect(url_for("notifications.settings"))
    db.session.commit()
    flash(_("We have sent a code to your mobile. Type it in below."), "success")
    return redirect(url_for("notifications.settings") + "#phone")


@bp.route("/account/phone/verify", methods=["POST"])
@role_required("patient")
@limiter.limit("10 per hour", key_func=lambda: f"phone-verify:{current_user.get_id()}")
def verify_phone():
    """Confirm the mobile number with the code."""
    form = forms.VerifyPhoneForm()
    if not (form.validate_on_submit() and services.confirm_phone(current_user, form.code.data or "")):
        form.code.errors.append(_("The code is wrong or too old. Ask for a new code."))
        return _render(services.consents_of(current_user), verify_form=form, status=400)
    db.session.commit()
    flash(_("Your mobile number is confirmed."), "success")
    return redirect(url_for("notifications.settings"))
