"""The conversation pages for patients and care teams, and the care team's inbox."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth.services import unit_ids_subquery
from webapp.core import drafts
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.extensions import db, limiter
from webapp.messages import services
from webapp.messages.forms import MessageForm
from webapp.programme.enrolments import load_enrolment_for_clinician, load_enrolment_for_patient

bp = Blueprint("messages", __name__, template_folder="templates")

ERRORS = {
    "empty": lambda: _("Write a message before you send it."),
    "too_long": lambda: _("The message is too long. Shorten it to at most %(n)s characters and send again.",
                          n=f"{services.MAX_LENGTH:,}".replace(",", "\u00a0")),
    "closed": lambda: _("This conversation is closed and cannot get new messages."),
}


def _user_key() -> str:
    return f"messages:{current_user.get_id()}"


def _limit():
    return current_app.config["RATELIMIT_MESSAGES"]


@bp.app_template_filter("message_body")
def _message_body(body: str):
    return services.render_body(body)


def _post(enrolment, post, thread_url, render):
    """Shared POST handling: send, or show the page again with the draft and a message."""
    form = MessageForm()
    if not form.validate_on_submit():
        return render(form, status=400)
    try:
        post(enrolment, current_user, form.body.data)
    except services.MessageError as exc:
        db.session.rollback()
        form.body.errors = [ERRORS[exc.code]()]
        return render(form, status=400)
    db.session.commit()
    flash(_("Your message is sent."), "success")
    return redirect(thread_url + "#latest")


def _restored_form() -> MessageForm:
    """An empty message form, or the text written when the session had ended (core.drafts)."""
    restored = drafts.take()
    return MessageForm(formdata=restored.fields if restored else None)


@bp.route("/e/<int:enrolment_id>/messages", methods=["GET", "POST"])
@role_required("patient")
@limiter.limit(_limit, methods=["POST"], key_func=_user_key)
def patient_thread(enrolment_id: int):
    """The patient's conversation with their care team."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user)

    def render(form=None, status=200):
        messages = services.thread(enrolment)
        services.mark_read(enrolment, current_user, side_read="staff")
        html = render_template("messages/thread.html", enrolment=enrolment, messages=messages, side="patient",
                               form=form or _restored_form(), can_post=True)
        db.session.commit()
        return html, status

    if request.method == "POST":
        return _post(enrolment, services.post_as_patient,
                     url_for("messages.patient_thread", enrolment_id=enrolment.id), render)
    return render()


@bp.route("/clinician/enrolments/<int:enrolment_id>/messages", methods=["GET", "POST"])
@role_required("clinician")
@limiter.limit(_limit, methods=["POST"], key_func=_user_key)
def staff_thread(enrolment_id: int):
    """The conversation as the care team sees it; read-only once access is closed."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)

    def render(form=None, status=200):
        messages = services.thread(enrolment)
        log_access(current_user, "messages.view", patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
        services.mark_read(enrolment, current_user, side_read="patient")
        html = render_template("messages/thread.html", enrolment=enrolment, messages=messages, side="staff",
                               form=form or _restored_form(), can_post=enrolment.is_open)
        db.session.commit()
        return html, status

    if request.method == "POST":
        return _post(enrolment, services.post_as_staff,
                     url_for("messages.staff_thread", enrolment_id=enrolment.id), render)
    return render()


@bp.route("/clinician/enrolments/<int:enrolment_id>/messages/handled", methods=["POST"])
@role_required("clinician")
def mark_handled(enrolment_id: int):
    """Take a conversation off the inbox without writing back."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    services.mark_handled(enrolment)
    db.session.commit()
    flash(_("The conversation is marked as handled."), "success")
    return redirect(url_for("messages.inbox"))


@bp.route("/clinician/inbox")
@role_required("clinician")
def inbox():
    """Conversations waiting for an answer in the clinician's care units, oldest first."""
    rows = services.inbox(current_user, unit_ids_subquery(current_user))
    log_access(current_user, "inbox.view", detail=f"{len(rows)} waiting",
               patient_ids=[enrolment.patient_id for enrolment, _conversation in rows])
    html = render_template("messages/inbox.html", rows=rows)
    db.session.commit()
    return html


@bp.app_context_processor
def _navigation_count():
    """Every page: the unread count beside the navigation link."""
    return {"unread_count": unread_count()}


def unread_count() -> int | None:
    """For the navigation: unread messages (patients) or waiting conversations (clinicians)."""
    if not current_user.is_authenticated:
        return None
    if current_user.role == "patient":
        return services.unread_for_patient(current_user)
    if current_user.role == "clinician":
        return services.waiting_for_staff(current_user, unit_ids_subquery(current_user))
    return None


