"""The patient's own account pages: contact details (e-mail and mobile number,
each confirmed before use) and the short introduction after the first login."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from webapp.account import forms, services
from webapp.account.services import ContactError
from webapp.auth.views import fresh_login_required
from webapp.core.access import role_required
from webapp.core.urls import external_url, safe_next
from webapp.extensions import db, limiter
from webapp.notifications import services as notification_services
from webapp.notifications.forms import SettingsForm
from webapp.notifications.services import OPTIONAL_KINDS, Kind
from webapp.programme.enrolments import sender_of
from webapp.programme.models import Enrolment

bp = Blueprint("account", __name__, template_folder="templates")

STEPS = ("about", "phone", "notifications", "language")

CONTACT_MESSAGES = {
    "same": lambda: _("That is already the address or number on your account."),
    "taken": lambda: _("That e-mail address cannot be used for your account. Choose another, or ask your care unit."),
    "invalid": lambda: _("The link is not right. Copy the whole link from the e-mail, or ask for a new one."),
    "used": lambda: _("The link has already been used, or a newer link was sent. Use the newest e-mail."),
    "expired": lambda: _("The link or code is too old. Ask for a new one."),
    "wrong_code": lambda: _("The code is wrong. Check the SMS and try again, or ask for a new code."),
}


def _per_user(name: str):
    return lambda: f"{name}:{current_user.get_id()}"


def _back(default: str):
    """Where a contact form returns to: the page it was on (the introduction or the contact page)."""
    return redirect(safe_next(request.form.get("next")) or default)


# --- contact details ----------------------------------------------------------------

def _render_contact(email_form=None, phone_form=None, code_form=None, status=200):
    return render_template(
        "account/contact.html",
        email_form=email_form or forms.EmailForm(formdata=None),
        phone_form=phone_form or forms.PhoneForm(formdata=None, phone=current_user.phone or ""),
        code_form=code_form or forms.VerifyPhoneForm(formdata=None),
        remove_form=forms.NextForm(formdata=None),
        email_pending=services.pending(current_user, "email"),
        phone_pending=services.pending(current_user, "sms"),
    ), status


@bp.route("/account/contact")
@role_required("patient")
def contact():
    """The patient's e-mail address and mobile number, and forms to change them."""
    return _render_contact()


@bp.route("/account/contact/email", methods=["POST"])
@role_required("patient")
@fresh_login_required
@limiter.limit("5 per hour", key_func=_per_user("email-change"))
def change_email():
    """Send a confirmation link to a new e-mail address."""
    form = forms.EmailForm()
    if form.validate_on_submit():
        try:
            services.request_email_change(current_user, form.email.data)
        except ContactError as exc:
            db.session.rollback()
            form.email.errors.append(CONTACT_MESSAGES[exc.code]())
        else:
            db.session.commit()
            flash(_("We have sent a link to the new address. Open it to confirm; until then we use the old one."),
                  "success")
            return _back(url_for("account.contact"))
    return _render_contact(email_form=form, status=400)


@bp.route("/account/contact/email/<token>")
def confirm_email(token: str):
    """The link from the e-mail: the new address becomes the account's (works once, logged in or not)."""
    try:
        services.confirm_email_change(token)
    except ContactError as exc:
        db.session.rollback()
        if exc.code == "invalid":
            abort(404)
        return render_template("account/link_problem.html", message=CONTACT_MESSAGES[exc.code]()), 410
    db.session.commit()
    flash(_("Your new e-mail address is confirmed. Use it when you log in."), "success")
    return redirect(url_for("account.contact") if current_user.is_authenticated else url_for("auth.login"))


@bp.route("/account/contact/phone", methods=["POST"])
@role_required("patient")
@limiter.limit("5 per hour", key_func=_per_user("phone-change"))
def change_phone():
    """Text a code to a mobile number to add, change or confirm it."""
    form = forms.PhoneForm()
    if form.validate_on_submit():
        try:
            services.request_phone_change(current_user, form.phone.data)
        except ContactError as exc:
            db.session.rollback()
            form.phone.errors.append(CONTACT_MESSAGES[exc.code]())
        else:
            db.session.commit()
            flash(_("We have sent a code by SMS. Type it in below."), "success")
            return redirect((safe_next(form.next.data) or url_for("account.contact")) + "#phone-code")
    if safe_next(form.next.data) == url_for("account.onboarding", step="phone"):
        return _render_step("phone", phone_form=form, status=400)
    return _render_contact(phone_form=form, status=400)


@bp.route("/account/contact/phone/confirm", methods=["POST"])
@role_required("patient")
@limiter.limit("10 per hour", key_func=_per_user("phone-confirm"))
def confirm_phone():
    """Confirm the new mobile number with the code from the SMS."""
    form = forms.VerifyPhoneForm()
    if form.validate_on_submit():
        try:
            services.confirm_phone_change(current_user, form.code.data or "")
        except ContactError as exc:
            db.session.commit()  # a wrong code counts
            form.code.errors.append(CONTACT_MESSAGES[exc.code]())
        else:
            db.session.commit()
            flash(_("Your mobile number is confirmed. You can now choose to get SMS."), "success")
            return _back(url_for("account.contact"))
    else:
        form.code.errors.append(_("Type the six digits from the SMS."))
    if safe_next(request.form.get("next")) == url_for("account.onboarding", step="phone"):
        return _render_step("phone", code_form=form, status=400)
    return _render_contact(code_form=form, status=400)


@bp.route("/account/contact/phone/remove", methods=["POST"])
@role_required("patient")
def remove_phone():
    """Remove the mobile number; SMS notices stop."""
    if not forms.NextForm().validate_on_submit():
        abort(400)
    services.remove_phone(current_user)
    db.session.commit()
    flash(_("Your mobile number is removed. We send no more SMS."), "success")
    return redirect(url_for("account.contact"))


# --- the introduction after the first login ----------------------------------------------

def _newest_enrolment():
    return db.session.scalar(select(Enrolment).where(Enrolment.patient_id == current_user.id, Enrolment.is_open)
                             .order_by(Enrolment.created_at.desc()).limit(1))


def _previews() -> dict:
    """What the notices look like, in the patient's language: the real templates, with the real sender."""
    enrolment = _newest_enrolment()
    payload = {"url": external_url("auth.login"), **(sender_of(enrolment) if enrolment else {})}
    return {channel: notification_services.preview(Kind.NEW_MESSAGE, channel, current_user.locale, payload)
            for channel in ("email", "sms")}


def _render_step(step: str, phone_form=None, code_form=None, settings_form=None, status=200):
    consents = notification_services.consents_of(current_user)
    settings_form = settings_form or SettingsForm(formdata=None, choices=notification_services.consent_choices(),
                                                  choice=notification_services.chosen(consents))
    index = STEPS.index(step)
    return render_template(
        "account/onboarding.html", step=step, steps=STEPS, number=index + 1,
        next_step=STEPS[index + 1] if index + 1 < len(STEPS) else None,
        enrolment=_newest_enrolment(), kinds=OPTIONAL_KINDS, consents=consents, settings_form=settings_form,
        phone_form=phone_form or forms.PhoneForm(formdata=None, phone=current_user.phone or ""),
        code_form=code_form or forms.VerifyPhoneForm(formdata=None),
        phone_pending=services.pending(current_user, "sms"), finish_form=forms.NextForm(formdata=None),
        previews=_previews() if step == "notifications" else None,
        languages=current_app.config["LANGUAGES"],
    ), status


@bp.route("/welcome")
@role_required("patient")
def onboarding_start():
    """The introduction from its first step."""
    return redirect(url_for("account.onboarding", step=STEPS[0]))


@bp.route("/welcome/<step>", methods=["GET", "POST"])
@role_required("patient")
def onboarding(step: str):
    """One step of the introduction; the notifications step saves the patient's choices."""
    if step not in STEPS:
        abort(404)
    if step == "notifications":
        consents = notification_services.consents_of(current_user)
        form = SettingsForm(choices=notification_services.consent_choices(),
                            choice=notification_services.chosen(consents))
        if form.validate_on_submit():
            notification_services.save_consents(current_user, form.choice.data, consents)
            db.session.commit()
            flash(_("Your choices are saved."), "success")
            return redirect(url_for("account.onboarding", step="language"))
        if form.is_submitted():
            return _render_step(step, settings_form=form, status=400)
    elif request.method == "POST":
        abort(405)
    return _render_step(step)


@bp.route("/welcome/done", methods=["POST"])
@role_required("patient")
def finish_onboarding():
    """Finish or skip the introduction and go to the start page."""
    if not forms.NextForm().validate_on_submit():
        abort(400)
    services.finish_onboarding(current_user)
    db.session.commit()
    return redirect(url_for("programme.home"))
