"""The conversation pages for patients and care teams, and the care team's inbox."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from webapp.auth.models import UserSession
from webapp.auth.services import SessionCompanion, register_session_companion, unit_ids_subquery, units_of
from webapp.core import drafts
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.i18n import LANGUAGE_NAMES
from webapp.extensions import db, limiter
from webapp.messages import services
from webapp.messages.defaults import BUILT_IN
from webapp.messages.forms import KIND_LABELS, MessageForm, StaffMessageForm, TemplateForm
from webapp.programme.enrolments import load_enrolment_for_clinician, load_enrolment_for_patient

bp = Blueprint("messages", __name__, template_folder="templates")

ERRORS = {
    "empty": lambda: _("Write a message before you send it."),
    "too_long": lambda: _("The message is too long. Shorten it to at most %(n)s characters and send again.",
                          n=f"{services.MAX_LENGTH:,}".replace(",", "\u00a0")),
    "closed": lambda: _("This conversation is closed and cannot get new messages."),
    "template_name": lambda: _("Give the template a name."),
    "template_name_long": lambda: _("The name can be at most 100 characters."),
}
# Templates may be written in these languages (Persian too, though the interface has no Persian yet).
TEMPLATE_LANGUAGES = {**LANGUAGE_NAMES, "fa": "فارسی"}


def _user_key() -> str:
    return f"messages:{current_user.get_id()}"


def _limit():
    return current_app.config["RATELIMIT_MESSAGES"]


@bp.app_template_filter("message_body")
def _message_body(body: str):
    return services.render_body(body)


def _post(enrolment, post, thread_url, render, form_class=MessageForm):
    """Shared POST handling: send, or show the page again with the draft and a message."""
    form = form_class()
    if not form.validate_on_submit():
        return render(form, status=400)
    if "insert" in request.form and hasattr(form, "template"):
        # "Insert" puts the chosen template into the text; nothing is sent yet.
        filled = services.filled_template(form.template.data, current_user, enrolment)
        if filled is None:
            form.template.errors = [_("Choose a template.")]
            return render(form, status=400)
        form.body.data = services.insert_template(form.body.data, filled)
        return render(form)
    try:
        post(enrolment, current_user, form.body.data)
    except services.MessageError as exc:
        db.session.rollback()
        form.body.errors = [ERRORS[exc.code]()]
        return render(form, status=400)
    db.session.commit()
    flash(_("Your message is sent."), "success")
    return redirect(thread_url + "#latest")


def _restored_form(form_class=MessageForm) -> MessageForm:
    """An empty message form, or the text written when the session had ended (core.drafts)."""
    restored = drafts.take()
    return form_class(formdata=restored.fields if restored else None)


def template_choices(enrolment) -> list[tuple[str, str]]:
    """The template select of a message form to this patient (the clinician's answers view uses it too)."""
    labels = {"built_in": _("built in"), "unit": _("care unit"), "mine": _("personal")}
    return [SelectChoice(v, label) for v, label in
            [("", _("Choose a template")), *services.template_choices(current_user, enrolment, labels)]]


@bp.route("/e/<int:enrolment_id>/messages", methods=["GET", "POST"])
@role_required("patient")
@limiter.limit(_limit, methods=["POST"], key_func=_user_key)
def patient_thread(enrolment_id: int):
    """The patient's conversation with their care team."""
    enrolment = load_enrolment_for_patient(enrolment_id, current_user)

    def render(form=None, status=200):
        messages = services.thread(enrolment)
        if services.mark_read(enrolment, current_user, side_read="staff"):
            forget_navigation_count()
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
        if services.mark_read(enrolment, current_user, side_read="patient"):
            forget_navigation_count()
        form = form or _restored_form(StaffMessageForm)
        form.template.choices = template_choices(enrolment)
        html = render_template("messages/thread.html", enrolment=enrolment, messages=messages, side="staff",
                               form=form, can_post=enrolment.is_open)
        db.session.commit()
        return html, status

    if request.method == "POST":
        return _post(enrolment, services.post_as_staff,
                     url_for("messages.staff_thread", enrolment_id=enrolment.id), render, StaffMessageForm)
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
    feedback = services.waiting_for_feedback(unit_ids_subquery(current_user))
    log_access(current_user, "inbox.view", detail=f"waiting={len(rows)} feedback={len(feedback)}",
               patient_ids=sorted({enrolment.patient_id for enrolment, _row in [*rows, *feedback]}))
    html = render_template("messages/inbox.html", rows=rows, feedback=feedback)
    db.session.commit()
    return html


@bp.app_context_processor
def _navigation_count():
    """Every page: the unread count beside the navigation link."""
    return {"unread_count": unread_count()}


def _on_a_page() -> dict | None:
    """Pages (GET) show the navigation's count: read it beside the session, not in a query of its own."""
    return {} if request.method == "GET" else None


def _with_navigation_count(statement):
    # Both counts are columns: the patient's is 0 for staff (they have no
    # enrolments) and the clinician's 0 for patients (they have no care units),
    # so each costs an empty index lookup for the other role.
    return statement.add_columns(services.unread_for_patient_column(UserSession.user_id).label("unread_for_patient"),
                                 services.waiting_for_staff_column(UserSession.user_id).label("waiting_for_staff"))


def _take_navigation_count(row) -> None:
    g.navigation_count = {"patient": row.unread_for_patient, "clinician": row.waiting_for_staff}


register_session_companion("navigation_count", SessionCompanion(
    params=_on_a_page, extend=_with_navigation_count, take=_take_navigation_count))


def forget_navigation_count() -> None:
    """The request changed what the count counts (messages were read): the page asks again."""
    g.pop("navigation_count", None)


def unread_count() -> int | None:
    """For the navigation: unread messages (patients) or waiting conversations (clinicians)."""
    if not current_user.is_authenticated or current_user.role not in ("patient", "clinician"):
        return None
    preloaded = g.get("navigation_count")
    if preloaded is not None:
        return preloaded[current_user.role] or 0
    if current_user.role == "patient":
        return services.unread_for_patient(current_user)
    return services.waiting_for_staff(current_user, unit_ids_subquery(current_user))




# --- message templates ----------------------------------------------------------------


def _template_form(units, **data) -> TemplateForm:
    """The template form: from the request on POST, else filled with ``data``."""
    form = TemplateForm(formdata=None, **data) if data else TemplateForm()
    form.locale.choices = [SelectChoice(code, name) for code, name in TEMPLATE_LANGUAGES.items()]
    form.unit.choices = [SelectChoice(u.id, u.name) for u in units]
    return form


def _save(form, template, units):
    """Create or change from the form; the page again (400) with the text kept if something is wrong."""
    if not form.validate_on_submit():
        return None
    try:
        saved = services.save_template(template, current_user, form.unit.data, kind=form.kind.data,
                                       locale=form.locale.data, name=form.name.data, body=form.body.data,
                                       personal=form.personal.data)
    except services.MessageError as exc:
        db.session.rollback()
        (form.name if exc.code.startswith("template_name") else form.body).errors = [ERRORS[exc.code]()]
        return None
    db.session.commit()
    return saved


@bp.route("/clinician/message-templates", methods=["GET", "POST"])
@role_required("clinician")
def templates():
    """The care unit's and the clinician's own message templates, the shipped ones, and a form for a new one."""
    units = units_of(current_user)
    if not units:
        abort(403)
    form = _template_form(units) if request.method == "POST" else _template_form(
        units, locale=current_user.locale if current_user.locale in TEMPLATE_LANGUAGES else "sv", unit=units[0].id)
    if request.method == "POST":
        if _save(form, None, units) is not None:
            flash(_("The template is saved."), "success")
            return redirect(url_for("messages.templates"))
    return render_template("messages/templates.html", form=form, editing=None,
                           stored=services.visible_templates(current_user, [u.id for u in units]),
                           built_in=BUILT_IN, kinds=KIND_LABELS, languages=TEMPLATE_LANGUAGES,
                           unit_names={u.id: u.name for u in units},
                           placeholders=services.PLACEHOLDERS), 400 if form.errors else 200


@bp.route("/clinician/message-templates/<int:template_id>", methods=["GET", "POST"])
@role_required("clinician")
def edit_template(template_id: int):
    """Change one template (a unit's, or the clinician's own); others' personal templates do not exist here."""
    units = units_of(current_user)
    template = services.get_template(template_id, current_user, [u.id for u in units])
    if template is None:
        abort(404)
    if request.method == "POST":
        form = _template_form(units)
        if _save(form, template, units) is not None:
            flash(_("The template is saved."), "success")
            return redirect(url_for("messages.templates"))
    else:
        form = _template_form(units, name=template.name, kind=template.kind, locale=template.locale,
                              unit=template.care_unit_id, personal=template.owner_id is not None, body=template.body)
    return render_template("messages/templates.html", form=form, editing=template,
                           stored=services.visible_templates(current_user, [u.id for u in units]),
                           built_in=BUILT_IN, kinds=KIND_LABELS, languages=TEMPLATE_LANGUAGES,
                           unit_names={u.id: u.name for u in units},
                           placeholders=services.PLACEHOLDERS), 400 if form.errors else 200


@bp.route("/clinician/message-templates/<int:template_id>/delete", methods=["POST"])
@role_required("clinician")
def delete_template(template_id: int):
    """Remove a template (messages already sent with it stay as they are)."""
    template = services.get_template(template_id, current_user, [u.id for u in units_of(current_user)])
    if template is None:
        abort(404)
    # CSRF: checked for every POST by CSRFProtect (extensions.csrf).
    services.delete_template(template)
    db.session.commit()
    flash(_("The template is removed."), "success")
    return redirect(url_for("messages.templates"))
