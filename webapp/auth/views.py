"""Logging in and out, two-factor codes, invitations, password reset, own sessions."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from functools import wraps

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_datetime, format_time, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from webapp.auth import oidc, passkeys, services
from webapp.auth.forms import EmptyForm, LoginForm, NewPasswordForm, OtpForm, ReauthForm, ResetRequestForm
from webapp.auth.models import TokenPurpose
from webapp.auth.signals import account_activated
from webapp.core.audit import log_access, security_event
from webapp.core.db import utcnow
from webapp.core.pagecache import same_for_every_visitor
from webapp.core.urls import safe_next
from webapp.extensions import db, limiter

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")

ROLE_LABELS = {
    "patient": _l("Patient"),
    "clinician": _l("Clinician"),
    "editor": _l("Content editor"),
    "admin": _l("Administrator"),
    "system": _l("System"),
}


@bp.app_context_processor
def _account_helpers():
    """Every page: the session's time left (for the idle warning) and role names."""
    times = services.session_times() if current_user.is_authenticated else None
    return {
        "session_seconds_left": times.seconds_left if times else None,
        "session_warning_seconds": current_app.config["SESSION_WARNING_SECONDS"],
        "role_label": lambda role: str(ROLE_LABELS.get(role, role)),
    }


def _limit(key: str):
    return lambda: current_app.config[key]


def _login_account_key() -> str:
    """Login attempts per account name typed (a keyed hash: no e-mail address in the storage or its log lines)."""
    return "login:" + services.lockout_subject(email=request.form.get("email", "")[:254])


def _otp_account_key() -> str:
    """Code attempts per staff account: the one whose password step this session passed."""
    return f"otp:user-{session.get('mfa_user_id') or '-'}"


def _retry_text(until: datetime, kind: str | None = None) -> str:
    """Why an attempt is refused and when to try again, in the reader's language and Stockholm time."""
    left = until - utcnow()
    # To the nearest minute, at least one (the clock time beside it is exact): a
    # per-minute window's end, rounded to whole seconds, can lie a moment past 60 s.
    minutes = max(1, round(left.total_seconds() / 60))
    duration = ngettext("%(num)d minute", "%(num)d minutes", minutes)
    at = format_time(until, "short") if left < timedelta(hours=12) else format_datetime(until, "short")
    if kind == "password":
        return _("Too many failed logins for this account. To protect it, logging in is paused: "
                 "try again in %(duration)s, at %(time)s.", duration=duration, time=at)
    if kind == "two_factor":
        return _("Too many wrong codes for this account. To protect it, the code step is paused: "
                 "try again in %(duration)s, at %(time)s.", duration=duration, time=at)
    return _("You have tried many times in a short while. Try again in %(duration)s, at %(time)s.",
             duration=duration, time=at)


def _refused(template: str, form, until: datetime | None, kind: str | None = None):
    """The same page again, saying when to try again: 429 with Retry-After."""
    if until is None:
        return render_template(template, form=form, retry=_("Please wait a minute before you try again.")), 429
    seconds = max(1, math.ceil((until - utcnow()).total_seconds()))
    return (render_template(template, form=form, retry=_retry_text(until, kind)), 429,
            {"Retry-After": str(seconds)})


def _limit_resets_at() -> datetime | None:
    """When the per-minute limit this request broke lets the next attempt through (None: unknown)."""
    try:
        current = limiter.current_limit
        return datetime.fromtimestamp(current.reset_at, timezone.utc) if current else None
    except Exception:  # the storage went away after it refused: the page then says "a minute"
        return None


@bp.errorhandler(429)
def too_many_attempts(error):
    """A per-minute limit was reached: the login or code page again, saying when to try again.

    The e-mail address typed stays in the form (never the password). The other
    pages here get the site's own 429 page, as core.views.init_error_handlers
    renders it (a blueprint's handler replaces the application's for its pages).
    """
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error=429), 429
    if request.endpoint == "auth.login":
        return _refused("auth/login.html", LoginForm(), _limit_resets_at())
    if request.endpoint == "auth.two_factor" and session.get("mfa_user_id"):
        return _refused("auth/two_factor.html", OtpForm(), _limit_resets_at())
    return render_template("core/error.html", code=429), 429


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_LOGIN"), methods=["POST"])
@limiter.limit(_limit("RATELIMIT_LOGIN_ACCOUNT"), methods=["POST"], key_func=_login_account_key)
@same_for_every_visitor
def login():
    """Show the login form; on success start a session (staff continue to their code)."""
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        attempt = services.start_attempt("password", services.lockout_subject(email=form.email.data))
        if attempt.refused:
            # Locked out: the password is not checked at all, so a right one does
            # not log in either, and the answer says nothing about it.
            services.refuse_attempt(attempt, services.get_user_by_email(form.email.data))
            db.session.commit()
            return _refused("auth/login.html", form, attempt.locked_until, "password")
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            locked_until = services.fail_attempt(attempt, services.get_user_by_email(form.email.data))
            db.session.commit()  # keep the failed-attempt count
            # Same words whether the account exists or not: no account enumeration.
            form.password.errors.append(_("The e-mail address or password is wrong."))
            if locked_until:  # this was the last try allowed: say so now
                return render_template("auth/login.html", form=form, retry=_retry_text(locked_until, "password"))
        elif user.is_staff:
            services.succeed_attempt(attempt)
            services.begin_mfa(user)
            session["mfa_next"] = safe_next(form.next.data)
            db.session.commit()
            if user.totp_secret:
                return redirect(url_for("auth.two_factor"))
            return redirect(url_for("auth.two_factor_setup"))
        elif services.must_use_eid(user) and oidc.providers("patient"):
            services.succeed_attempt(attempt)
            security_event("login_refused", user, "the care unit requires e-ID")
            db.session.commit()
            form.password.errors.append(_("Your care unit asks you to log in with e-ID (BankID or Freja eID Plus). "
                                          "Use the button above."))
        else:
            # Patients too: the password is one factor, a passkey or a code from an app the second.
            services.succeed_attempt(attempt)
            services.begin_mfa(user)
            session["mfa_next"] = safe_next(form.next.data)
            db.session.commit()
            return redirect(_second_factor_url(user))
    elif request.method == "GET" and session.pop("session_end_reason", None) == "timeout":
        session.pop("_flashes", None)  # "please log in" would only repeat this
        flash(_("You were logged out because you were inactive for a while. Please log in again."), "info")
    return render_template("auth/login.html", form=form)


def provider_name(provider: str | None) -> str:
    """What an e-ID provider is called for people: its label, else the e-IDs of its audience."""
    settings = current_app.config["OIDC_CLIENTS"].get(provider or "")
    if settings is None:
        return provider or ""
    return settings.get("label") or ("BankID / Freja eID Plus" if settings["audience"] == "patient" else "SITHS")


def login_method_label(row) -> str:
    """How a session began, in the reader's language (the account page's list of logins)."""
    if row.method == "eid":
        return _("e-ID: %(provider)s", provider=provider_name(row.provider))
    if row.method == "password+totp":
        return _("Password and a code from an app")
    if row.method == "password+passkey":
        return _("Password and a passkey")
    return _("Password")


@bp.app_context_processor
def _eid_helpers():
    """The login page's e-ID buttons (configured providers, patients' first) and login labels."""
    return {"eid_providers": lambda: sorted(oidc.providers(), key=lambda p: p[1] != "patient"),
            "login_method_label": login_method_label}


def fresh_login_required(view):
    """Sensitive actions (exports, erasure, roles, one's own e-mail or factors): a recent login only.

    Older than FRESH_AUTH_MINUTES, the person first proves again who they are
    (password and code, or their e-ID) and then comes back to the same page.
    """

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not services.is_fresh():
            back = request.full_path.rstrip("?") if request.method == "GET" else (request.referrer and safe_next(
                "/" + request.referrer.split("/", 3)[-1]) or None)
            flash(_("For your safety, please confirm who you are before you continue."), "info")
            return redirect(url_for("auth.reauthenticate", next=safe_next(back) or ""))
        return view(*args, **kwargs)

    return wrapped


@bp.route("/reauthenticate", methods=["GET", "POST"])
@login_required
@limiter.limit(_limit("RATELIMIT_LOGIN"), methods=["POST"])
def reauthenticate():
    """Confirm who you are again (password and, for staff, a code; or e-ID) before a sensitive action."""
    user = current_user._get_current_object()
    form = ReauthForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        attempt = services.start_attempt("password", services.lockout_subject(email=user.email))
        if attempt.refused:
            services.refuse_attempt(attempt, user)
            db.session.commit()
            return _refused("auth/reauthenticate.html", form, attempt.locked_until, "password")
        ok = services.authenticate(user.email, form.password.data) is not None
        if ok and user.is_staff and user.totp_secret:
            ok = services.verify_totp(user, form.code.data or "")
            if not ok:
                form.code.errors.append(_("That code is wrong or has already been used. Wait for the next code and try again."))
        elif not ok:
            form.password.errors.append(_("The password is wrong."))
        if ok:
            services.succeed_attempt(attempt)
            services.mark_reauthenticated(user, "password+totp" if user.is_staff else "password")
            db.session.commit()
            return redirect(safe_next(form.next.data) or url_for("auth.account"))
        services.fail_attempt(attempt, user)
        db.session.commit()
    row = getattr(g, "user_session", None)
    eid = row.provider if row is not None and row.method == "eid" and oidc.is_provider(row.provider) else None
    return render_template("auth/reauthenticate.html", form=form, eid_provider=eid,
                           eid_label=provider_name(eid) if eid else None)


@bp.route("/eid/<provider>")
@limiter.limit(_limit("RATELIMIT_LOGIN"))
def eid_start(provider: str):
    """Send the browser to the provider's login page.

    A link, not a form: the page's Content-Security-Policy (form-action 'self')
    would stop a form's redirect to another site. Starting is harmless: only the
    browser that started may finish (state, nonce and PKCE live in its session).
    ``reauth=1`` confirms the person of a live session before a sensitive action.
    """
    if not oidc.is_provider(provider):
        abort(404)
    next_target = safe_next(request.args.get("next"))
    reauth = current_user.is_authenticated and request.args.get("reauth") == "1"
    response = oidc.authorize_redirect(provider, str(get_locale() or ""), force_login=reauth)
    session["eid_next"] = next_target
    session["eid_reauth"] = reauth
    return response


@bp.route("/eid/<provider>/callback")
@limiter.limit(_limit("RATELIMIT_LOGIN"))
def eid_callback(provider: str):
    """Back from the provider: verify the ID token, find the account, start the session."""
    if not oidc.is_provider(provider):
        abort(404)
    target = safe_next(session.pop("eid_next", None))
    reauth = session.pop("eid_reauth", False) and current_user.is_authenticated
    # Set by the self-referral page that sent the resident here (referrals.views.eid).
    may_register = bool(session.pop("eid_may_register", False)) and not reauth
    try:
        login = oidc.complete_login(provider, may_register=may_register)
        if reauth and login.user.id != current_user.id:
            security_event("eid_refused", current_user._get_current_object(),
                           f"provider {provider}: re-authentication by another person")
            raise oidc.EidRefused("refused", "another person")
    except oidc.EidRefused as exc:
        db.session.commit()  # keep the security event
        status = 400 if exc.reason == "refused" else 403
        audience = dict(oidc.providers()).get(provider)
        return render_template("auth/eid_problem.html", reason=exc.reason, audience=audience), status
    user = login.user
    if reauth:
        services.mark_reauthenticated(user, f"eid {provider}", login.acr)
        db.session.commit()
        return redirect(target or url_for("auth.account"))
    # A resident's bare self-referral account has no invitation to accept.
    first = oidc.first_login_spends_invitation(user) and oidc.has_care_relation(user)
    services.start_session(user, method="eid", provider=login.provider, acr=login.acr)
    if first:
        log_access(user, "auth.invitation_accepted", detail="by e-ID")
        account_activated.send(user)
    db.session.commit()
    if first:
        flash(_("Welcome to Lotsa!"), "success")
    return redirect(target or url_for("core.index"))


def _second_factor_url(user) -> str:
    """Where the second step of a local login goes: passkey, code, or setting one up."""
    if passkeys.passkeys_of(user):
        return url_for("auth.passkey_login")
    if user.totp_secret:
        return url_for("auth.two_factor")
    return url_for("auth.two_factor_setup") if user.is_staff else url_for("auth.second_factor_setup")


def _factor_method(user, factor: str) -> str:
    return f"password+{factor}"


@bp.route("/second-factor")
def second_factor_setup():
    """First local login of a patient: choose a passkey or an authenticator app as second factor."""
    user = services.pending_mfa_user()
    if user is None:
        flash(_("Please log in again."), "info")
        return redirect(url_for("auth.login"))
    if user.totp_secret or passkeys.passkeys_of(user):
        return redirect(_second_factor_url(user))
    return render_template("auth/second_factor_setup.html", form=EmptyForm())


def _passkey_person():
    """(person, in a login) for the passkey endpoints: a login's second step, or a fresh session."""
    user = services.pending_mfa_user()
    if user is not None:
        return user, True
    if current_user.is_authenticated and services.is_fresh():
        return current_user._get_current_object(), False
    return None, False


def _json_refusal(message: str, status: int = 400):
    return jsonify(message=message), status


@bp.route("/passkey/register/options", methods=["POST"])
def passkey_register_options():
    """Options for creating a passkey (second-factor setup, or adding one from the account page)."""
    user, _in_login = _passkey_person()
    if user is None:
        return _json_refusal(_("Please log in again."), 403)
    return Response(passkeys.registration_options(user), mimetype="application/json")


@bp.route("/passkey/register", methods=["POST"])
@limiter.limit(_limit("RATELIMIT_OTP"))
def passkey_register():
    """Keep the passkey the browser created; at login, that completes the login."""
    user, in_login = _passkey_person()
    if user is None:
        return _json_refusal(_("Please log in again."), 403)
    try:
        passkeys.register(user, request.get_json(silent=True))
    except passkeys.PasskeyError as exc:
        security_event("passkey_refused", user, exc.reason)
        db.session.commit()
        return _json_refusal(_("The passkey could not be saved. Please try again."))
    security_event("passkey_added", user)
    if in_login:
        target = session.get("mfa_next")
        services.start_session(user, method=_factor_method(user, "passkey"))
        db.session.commit()
        flash(_("Your passkey is saved. Next time you log in with your password and the passkey."), "success")
        return jsonify(redirect=target or url_for("core.index"))
    db.session.commit()
    flash(_("Your passkey is saved."), "success")
    return jsonify(redirect=url_for("auth.account"))


@bp.route("/passkey/add")
@fresh_login_required
def passkey_add():
    """Add another passkey from the account page (a change of factors: fresh login needed)."""
    return render_template("auth/passkey_add.html", form=EmptyForm())


@bp.route("/passkey", methods=["GET"])
def passkey_login():
    """The second step of a local login with a passkey."""
    user = services.pending_mfa_user()
    if user is None or not passkeys.passkeys_of(user):
        flash(_("Please log in again."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/passkey_login.html", form=EmptyForm(), has_totp=bool(user.totp_secret))


@bp.route("/passkey/login/options", methods=["POST"])
def passkey_login_options():
    """Options for navigator.credentials.get() at the second step of a login."""
    user = services.pending_mfa_user()
    if user is None:
        return _json_refusal(_("Please log in again."), 403)
    return Response(passkeys.authentication_options(user), mimetype="application/json")


@bp.route("/passkey/login", methods=["POST"])
@limiter.limit(_limit("RATELIMIT_OTP"))
@limiter.limit(_limit("RATELIMIT_OTP_ACCOUNT"), key_func=_otp_account_key)
def passkey_login_verify():
    """Check the passkey's signature; on success the session starts."""
    user = services.pending_mfa_user()
    if user is None:
        return _json_refusal(_("Please log in again."), 403)
    attempt = services.start_attempt("two_factor", services.lockout_subject(user=user))
    if attempt.refused:
        services.refuse_attempt(attempt, user)
        db.session.commit()
        return _json_refusal(_retry_text(attempt.locked_until, "two_factor"), 429)
    try:
        passkeys.authenticate(user, request.get_json(silent=True))
    except passkeys.PasskeyError as exc:
        security_event("two_factor_failed", user, f"passkey: {exc.reason}")
        services.fail_attempt(attempt, user)
        db.session.commit()
        return _json_refusal(_("The passkey was not accepted. Please try again."))
    services.succeed_attempt(attempt)
    target = session.get("mfa_next")
    services.start_session(user, method=_factor_method(user, "passkey"))
    db.session.commit()
    return jsonify(redirect=target or url_for("core.index"))


@bp.route("/two-factor", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_OTP"), methods=["POST"])
@limiter.limit(_limit("RATELIMIT_OTP_ACCOUNT"), methods=["POST"], key_func=_otp_account_key)
def two_factor():
    """Ask a staff member for the code from their authenticator app."""
    user = services.pending_mfa_user()
    if user is None or not user.totp_secret:
        flash(_("Please log in again."), "info")
        return redirect(url_for("auth.login"))
    form = OtpForm()
    subject = services.lockout_subject(user=user)
    if form.validate_on_submit():
        attempt = services.start_attempt("two_factor", subject)
        if attempt.refused:
            # Locked out: the code is not checked, so a right one does not log in either.
            services.refuse_attempt(attempt, user)
            db.session.commit()
            return _refused("auth/two_factor.html", form, attempt.locked_until, "two_factor")
        if services.verify_totp(user, form.code.data):
            services.succeed_attempt(attempt)
            target = session.get("mfa_next")
            services.start_session(user, method=_factor_method(user, "totp"))
            db.session.commit()
            return redirect(target or url_for("core.index"))
        security_event("two_factor_failed", user, f"attempt {attempt.number}" if attempt.number else None)
        locked_until = services.fail_attempt(attempt, user)
        db.session.commit()
        form.code.errors.append(_("That code is wrong or has already been used. Wait for the next code and try again."))
        if locked_until:  # this was the last try allowed: say so now
            return render_template("auth/two_factor.html", form=form, retry=_retry_text(locked_until, "two_factor"))
    elif request.method == "GET" and (until := services.lockout_until("two_factor", subject)):
        # Say so before a code is typed that would only be refused.
        return render_template("auth/two_factor.html", form=form, retry=_retry_text(until, "two_factor"))
    return render_template("auth/two_factor.html", form=form, has_passkey=bool(passkeys.passkeys_of(user)))


@bp.route("/two-factor/setup", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_OTP"), methods=["POST"])
@limiter.limit(_limit("RATELIMIT_OTP_ACCOUNT"), methods=["POST"], key_func=_otp_account_key)
def two_factor_setup():
    """First staff login: show a new secret (QR code and text) and confirm one code."""
    user = services.pending_mfa_user()
    if user is None:
        flash(_("Please log in again."), "info")
        return redirect(url_for("auth.login"))
    if user.totp_secret:
        return redirect(url_for("auth.two_factor"))
    secret = services.pending_totp_secret(user)
    form = OtpForm()
    if form.validate_on_submit():
        if services.verify_totp(user, form.code.data, secret=secret):
            user.totp_secret = secret
            security_event("two_factor_set_up", user)
            target = session.get("mfa_next")
            services.start_session(user, method=_factor_method(user, "totp"))
            db.session.commit()
            flash(_("Two-factor authentication is set up."), "success")
            return redirect(target or url_for("core.index"))
        form.code.errors.append(_("That code is wrong or has already been used. Wait for the next code and try again."))
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template("auth/two_factor_setup.html", form=form, secret=grouped, user=user)


@bp.route("/two-factor/qr.svg")
def two_factor_qr():
    """The provisioning QR code for the secret shown on the setup page."""
    import io

    import segno

    user = services.pending_mfa_user()
    if user is None or user.totp_secret:
        abort(404)
    secret = services.pending_totp_secret(user)
    buffer = io.BytesIO()
    segno.make(services.totp_uri(user, secret), error="m").save(
        buffer, kind="svg", scale=5, border=2, title="QR"
    )
    return Response(buffer.getvalue(), mimetype="image/svg+xml")


@bp.route("/logout", methods=["POST"])
def logout():
    """End this session on the server, not only in the browser."""
    provider_logout = None
    if current_user.is_authenticated:
        security_event("logout", current_user._get_current_object())
        row = getattr(g, "user_session", None)
        if row is not None and row.method == "eid" and row.provider:
            provider_logout = oidc.logout_url(row.provider)
        services.end_session()
        db.session.commit()
    if provider_logout:
        # Also end the session at the e-ID provider, which then sends the browser
        # back to the login page. A page that moves on by itself, not a redirect:
        # the form-action policy stops a form's redirect to another site.
        return render_template("auth/logged_out.html", provider_logout=provider_logout)
    flash(_("You are logged out."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/logout-everywhere", methods=["POST"])
@login_required
def logout_everywhere():
    """End every session of this account, on every device."""
    user = current_user._get_current_object()
    security_event("logout_everywhere", user)
    services.revoke_all_sessions(user)
    services.end_session()
    db.session.commit()
    flash(_("You are logged out on all devices."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/session/extend", methods=["POST"])
@login_required
def extend_session():
    """The "stay logged in" button: count now as activity."""
    times = services.extend_session()
    db.session.commit()
    if request.accept_mimetypes.best == "application/json":
        return jsonify(seconds_left=times.seconds_left if times else 0)
    return redirect(safe_next(request.form.get("next")) or url_for("core.index"))


def _live_token(token: str, purpose: TokenPurpose):
    """(token row, None), or (None, a page saying why the link does not work: 404 or 410)."""
    try:
        return services.check_token(token, purpose), None
    except services.AuthError as exc:
        page = render_template("auth/token_problem.html", reason=exc.reason, kind=purpose.value)
        return None, (page, 404 if exc.reason == "invalid" else 410)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """Accept an invitation by choosing a password (the link works once)."""
    row, problem = _live_token(token, TokenPurpose.INVITATION)
    if problem:
        return problem
    form = NewPasswordForm()
    if form.validate_on_submit():
        user = services.use_token(row, form.password.data)
        log_access(user, "auth.invitation_accepted")
        account_activated.send(user)
        if user.is_staff:
            db.session.commit()
            flash(_("Your password is saved. Log in to set up two-factor authentication."), "success")
            return redirect(url_for("auth.login"))
        services.start_session(user)
        db.session.commit()
        flash(_("Welcome to Lotsa! Your password is saved."), "success")
        return redirect(url_for("core.index"))
    return render_template("auth/set_password.html", form=form, user=row.user, kind="invitation")


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_RESET"), methods=["POST"])
def request_reset():
    """Ask for a password-reset link; the answer never tells whether the account exists."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        return render_template("auth/reset_sent.html")
    return render_template("auth/reset_request.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password with a reset link; every other session is ended."""
    row, problem = _live_token(token, TokenPurpose.RESET)
    if problem:
        return problem
    form = NewPasswordForm()
    if form.validate_on_submit():
        user = services.use_token(row, form.password.data)
        log_access(user, "auth.password_reset")
        db.session.commit()
        flash(_("Your new password is saved. You can log in now."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/set_password.html", form=form, user=row.user, kind="reset")


@bp.route("/account")
@login_required
def account():
    """Own account: language, active sessions, log out everywhere."""
    sessions = services.active_sessions(current_user)
    return render_template("auth/account.html", sessions=sessions, form=EmptyForm(),
                           logins=services.recent_logins(current_user),
                           passkey_count=len(passkeys.passkeys_of(current_user)),
                           current_session=getattr(g, "user_session", None))
