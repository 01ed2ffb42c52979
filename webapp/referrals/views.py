"""Self-referral pages: residents ask a care unit to start a programme; the unit answers from its triage list."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from webapp.auth import oidc
from webapp.auth.models import User
from webapp.auth.services import units_of
from webapp.auth.views import provider_name
from webapp.content.services import get_catalogue
from webapp.core.access import role_required
from webapp.core.audit import log_access, security_event
from webapp.core.forms import flash_problems
from webapp.extensions import db, limiter
from webapp.programme.enrolments import EnrolmentError, default_welcome
from webapp.questionnaires import forms as answer_forms
from webapp.questionnaires import services as questionnaire_services
from webapp.referrals import forms, services

bp = Blueprint("referrals", __name__, template_folder="templates")

ERRORS = {
    "already_open": _l("You already have this programme. Log in to find it on your start page."),
    "already_sent": _l("The request has already been sent."),
    "screening_unanswered": _l("Answer every questionnaire before you send the request."),
    "already_answered": _l("Someone has already answered this request."),
    "message_missing": _l("Write what the resident should know."),
    "not_referred": _l("Someone has already answered this request."),
    "code_unknown": _l("Lotsa does not know this code. Check that you typed it as written."),
    "code_used": _l("This code has already been used. Each code works once: ask your care unit for a new one."),
    "code_expired": _l("This code is too old. Ask your care unit for a new one."),
    "has_account": _l("You already have an account in Lotsa. Log in, and ask your care unit to open the programme."),
    "email_taken": _l("Another account uses this e-mail address. Write another one."),
}


@bp.app_context_processor
def _referral_helpers():
    return {"referral_status_label": lambda status: services.STATUS_LABELS.get(status, status)}


def _programme(programme_id: str):
    return get_catalogue().programmes[programme_id]


def _providers() -> list[tuple[str, str]]:
    """(name, label) of the residents' e-ID providers."""
    return [(name, provider_name(name)) for name, _audience in oidc.providers("patient")]


def _has_placeholder_email(user) -> bool:
    return user.email.endswith("@invalid")


# --- the resident ----------------------------------------------------------------------


@bp.route("/referral/")
def index():
    """Programmes residents may ask to start, per care unit (no login needed to read the list)."""
    return render_template("referrals/index.html", offers=services.open_offers(), programme=_programme)


@bp.route("/referral/<int:offer_id>")
def offer(offer_id: int):
    """One open programme: what it is, how to log in, and (logged in) the start button."""
    item = services.load_open_offer(offer_id)
    is_resident = current_user.is_authenticated and current_user.role == "patient"
    form = forms.StartForm() if is_resident and _has_placeholder_email(current_user) else forms.EmptyForm()
    return render_template("referrals/offer.html", offer=item, programme=_programme(item.programme_id), form=form,
                           is_resident=is_resident, providers=_providers())


@bp.route("/referral/<int:offer_id>/eid/<provider>")
def eid(offer_id: int, provider: str):
    """Log in with e-ID to refer oneself: the login may make a bare account (it reaches only the request)."""
    services.load_open_offer(offer_id)
    if not oidc.is_provider(provider) or (provider, "patient") not in oidc.providers("patient"):
        abort(404)
    session["eid_may_register"] = True
    return redirect(url_for("auth.eid_start", provider=provider, next=url_for("referrals.offer", offer_id=offer_id)))


@bp.route("/referral/<int:offer_id>/start", methods=["POST"])
@role_required("patient")
def start(offer_id: int):
    """Begin the request and go to its first screening questionnaire."""
    item = services.load_open_offer(offer_id)
    needs_email = _has_placeholder_email(current_user)
    form = forms.StartForm() if needs_email else forms.EmptyForm()
    if not form.validate_on_submit():
        return render_template("referrals/offer.html", offer=item, programme=_programme(item.programme_id),
                               form=form, is_resident=True, providers=_providers()), 400
    if needs_email:
        email = form.email.data.strip().lower()
        if email != current_user.email and db.session.scalar(select(User.id).where(User.email == email)):
            form.email.errors.append(_("Another account uses this e-mail address. Write another one."))
            return render_template("referrals/offer.html", offer=item, programme=_programme(item.programme_id),
                                   form=form, is_resident=True, providers=_providers()), 400
        current_user.email = email
    try:
        referral = services.start(item, current_user)
    except services.ReferralError as exc:
        flash(ERRORS[exc.code], "error")
        return redirect(url_for("referrals.offer", offer_id=offer_id))
    db.session.commit()
    return redirect(url_for("referrals.request_page", referral_id=referral.id))


@bp.route("/referral/mine")
@role_required("patient")
def mine():
    """The resident's requests and what the care units answered."""
    return render_template("referrals/mine.html", referrals=services.referrals_of(current_user), programme=_programme)


@bp.route("/referral/r/<int:referral_id>")
@role_required("patient")
def request_page(referral_id: int):
    """One request: its questionnaires while answering, then its status and the unit's message."""
    referral = services.load_referral_for_resident(referral_id, current_user)
    dispatches = services.screening_dispatches(referral)
    return render_template("referrals/request.html", referral=referral, dispatches=dispatches,
                           forms_by_id=get_catalogue().forms, form=forms.EmptyForm(),
                           programme=_programme(referral.enrolment.programme_id))


@bp.route("/referral/r/<int:referral_id>/send", methods=["POST"])
@role_required("patient")
def send(referral_id: int):
    """Send the answered request to the unit's triage list."""
    referral = services.load_referral_for_resident(referral_id, current_user)
    if not forms.EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.send(referral)
    except services.ReferralError as exc:
        flash(ERRORS[exc.code], "error")
        return redirect(url_for("referrals.request_page", referral_id=referral.id))
    db.session.commit()
    flash(_("Your request has been sent. The care unit will answer you here."), "success")
    return redirect(url_for("referrals.request_page", referral_id=referral.id))


@bp.route("/referral/r/<int:referral_id>/form/<int:screening_id>", methods=["GET", "POST"])
@role_required("patient")
def answer(referral_id: int, screening_id: int):
    """Answer one screening questionnaire, scored and checked for safety answers like any other."""
    referral = services.load_referral_for_resident(referral_id, current_user)
    dispatch = next((d for d in services.screening_dispatches(referral) if d.id == screening_id), None)
    definition = get_catalogue().forms.get(dispatch.form_id) if dispatch is not None else None
    if dispatch is None or definition is None:
        abort(404)
    if dispatch.answered_at is not None or referral.status != "screening":
        return redirect(url_for("referrals.request_page", referral_id=referral.id))
    form_class = answer_forms.answer_form(definition, definition.language_for(current_user.locale))
    reading = definition.reading(current_user.locale)
    if request.method == "GET":
        form = form_class(data=questionnaire_services.draft_answers(dispatch))
        return render_template("questionnaires/answer.html", questionnaire=definition, form=form,
                               locale=reading.lang, reading=reading)
    form = form_class()
    if not form.validate_on_submit():
        questionnaire_services.save_draft(dispatch, form.answers())
        db.session.commit()
        return render_template("questionnaires/answer.html", questionnaire=definition, form=form,
                               locale=reading.lang, reading=reading), 400
    if form.is_final:
        _response, result = questionnaire_services.submit(dispatch, referral.enrolment, definition, form.answers())
        db.session.commit()
        if result.safety_hits:
            # The unit has been alerted; the resident is told at once where to get help now.
            flash(_("If you need help now, call 112 (emergency) or 1177 (health care advice)."), "error")
    else:
        questionnaire_services.save_draft(dispatch, form.answers())
        db.session.commit()
        flash(_("Your answers are saved. You can finish later."), "success")
    return redirect(url_for("referrals.request_page", referral_id=referral.id))


# --- the care unit ---------------------------------------------------------------------


@bp.route("/clinician/triage")
@role_required("clinician")
def triage():
    """The units' self-referrals waiting for an answer, with their screening scores (access-logged)."""
    rows = services.triage(current_user)
    log_access(current_user, "referrals.triage", detail=f"requests={len(rows)}",
               patient_ids=[row.patient.id for row in rows])
    db.session.commit()
    return render_template("referrals/triage.html", rows=rows, forms_by_id=get_catalogue().forms,
                           programme=_programme)


@bp.route("/clinician/triage/<int:referral_id>", methods=["GET", "POST"])
@role_required("clinician")
def decide(referral_id: int):
    """One request with its answers; the clinician accepts, asks for a visit or declines (access-logged)."""
    referral = services.load_referral_for_clinician(referral_id, current_user)
    enrolment = referral.enrolment
    programme = _programme(enrolment.programme_id)
    form = forms.AnswerForm()
    if request.method == "GET":
        form.welcome_text.data = default_welcome(programme, enrolment.patient.locale)
    elif form.validate_on_submit():
        try:
            if form.action.data == "accept":
                services.accept(referral, current_user, form.welcome_text.data.strip())
            elif form.action.data == "visit":
                services.ask_for_visit(referral, current_user, form.message.data)
            else:
                services.decline(referral, current_user, form.message.data)
        except (services.ReferralError, EnrolmentError) as exc:
            flash(ERRORS.get(exc.code, ERRORS["already_answered"]), "error")
            return redirect(url_for("referrals.decide", referral_id=referral.id))
        log_access(current_user, f"referrals.{form.action.data}", patient_id=enrolment.patient_id,
                   enrolment_id=enrolment.id)
        db.session.commit()
        flash(_("Your answer is saved and the resident has been told."), "success")
        return redirect(url_for("referrals.triage"))
    else:
        flash_problems(form)
    log_access(current_user, "referrals.view", patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
    db.session.commit()
    return render_template("referrals/decide.html", referral=referral, enrolment=enrolment, programme=programme,
                           dispatches=services.screening_dispatches(referral), forms_by_id=get_catalogue().forms,
                           form=form), 400 if form.errors else 200


@bp.route("/clinician/self-referral", methods=["GET", "POST"])
@role_required("clinician")
def offers():
    """The units' setting: which programmes residents may ask to start, and their screening questionnaires."""
    units = units_of(current_user)
    form = forms.OfferForm()
    form.unit_id.choices = [SelectChoice(u.id, u.name) for u in units]
    form.programme_id.choices = [SelectChoice(p.id, str(p.title(str(current_user.locale))))
                                 for p in get_catalogue().programmes.values()]
    form.forms.choices = [SelectChoice(f.id, f.title(str(current_user.locale)))
                          for f in services.screening_choices()]
    if form.validate_on_submit():
        unit = next(u for u in units if u.id == form.unit_id.data)
        services.save_offer(unit, form.programme_id.data, form.forms.data, form.is_open.data, current_user)
        db.session.commit()
        flash(_("The setting is saved."), "success")
        return redirect(url_for("referrals.offers"))
    return render_template("referrals/offers.html", form=form, offers=services.offers_of_units([u.id for u in units]),
                           programme=_programme, programmes_known=get_catalogue().programmes,
                           forms_by_id=get_catalogue().forms), 400 if form.errors else 200


# --- registration codes ------------------------------------------------------------------


@bp.route("/clinician/self-referral/codes", methods=["GET", "POST"])
@role_required("clinician")
def codes():
    """Single-use codes for a group, shown once; the units' codes with their use (no code is shown again)."""
    unit_ids = [u.id for u in units_of(current_user)]
    offers_here = services.offers_of_units(unit_ids)
    form = forms.CodesForm()
    catalogue = get_catalogue()
    form.offer_id.choices = [
        SelectChoice(o.id, f"{catalogue.programmes[o.programme_id].title(str(current_user.locale))} – {o.care_unit.name}")
        for o in offers_here if o.programme_id in catalogue.programmes]
    made = []
    if form.validate_on_submit():
        offer_ = next(o for o in offers_here if o.id == form.offer_id.data)
        made = services.create_codes(offer_, form.count.data, form.label.data, current_user)
        db.session.commit()
    return render_template("referrals/codes.html", form=form, made=made, codes=services.codes_of_units(unit_ids),
                           programmes=catalogue.programmes), 400 if form.errors else 200


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def register():
    """A resident registers with a code from the care unit; the e-mailed link sets password and second factor."""
    form = forms.RegisterForm()
    if form.validate_on_submit():
        try:
            services.redeem(form.code.data, personal_number=form.personal_number.data,
                            full_name=form.full_name.data, email=form.email.data, locale=str(get_locale() or "sv"))
        except services.ReferralError as exc:
            db.session.rollback()
            security_event("registration_code_refused", None, exc.code)
            db.session.commit()
            field = form.email if exc.code == "email_taken" else form.code
            field.errors = [*field.errors, ERRORS[exc.code]]
            return render_template("referrals/register.html", form=form), 400
        db.session.commit()
        return render_template("referrals/registered.html")
    return render_template("referrals/register.html", form=form), 400 if form.errors else 200
