"""Swedish e-ID login through OpenID Connect: Lotsa as relying party, with Authlib.

Every provider in ``OIDC_CLIENTS`` is registered with Authlib's Flask client:
authorization code flow with PKCE (S256), ``state`` and ``nonce`` kept in the
signed cookie session by Authlib, the ID token's signature (from the provider's
published keys), issuer, audience, expiry and nonce checked by Authlib. What
Lotsa adds is policy: which signing algorithms it accepts at all, that an ID
token must be there, the assurance level it asked for, and whom a verified
identity may become.

Patients are found by their personal identity number (or co-ordination number),
staff by their HSA-id; nobody gets an account from an e-ID alone, except a
resident who came to ask a care unit to start a programme (self-referral):
they get a bare patient account that reaches nothing until the unit says yes.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from flask import Flask, current_app
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from sqlalchemy import select, update

from webapp.auth.models import AuthToken, Role, TokenPurpose, User
from webapp.auth.signals import care_relation_requested
from webapp.core.audit import security_event
from webapp.core.db import utcnow
from webapp.core.identity import IdentityError, normalise_personal_number
from webapp.core.urls import external_url
from webapp.extensions import db

# Asymmetric signatures only: "none" and shared-secret HMAC ("HS256", keyed with
# the client secret) never prove that the provider issued a token.
ACCEPTED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class EidRefused(Exception):
    """A login that must not go through.

    ``reason`` picks the page the person sees ("refused", "cancelled",
    "no_access", "unknown_staff", "inactive"); ``detail`` is the precise cause
    for the security event (never an identity number).
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class EidLogin:
    """A verified e-ID login, matched to a Lotsa account."""

    user: User
    provider: str
    acr: str | None


def init_oidc(app: Flask) -> None:
    """Register every configured provider with an Authlib client of this app."""
    oauth = OAuth(app)
    timeout = app.config["OIDC_HTTP_TIMEOUT_SECONDS"]
    for name, settings in app.config["OIDC_CLIENTS"].items():
        client_kwargs = {"scope": settings["scopes"], "code_challenge_method": "S256", "default_timeout": timeout}
        extra = {}
        secret = settings.get("client_secret")
        if settings.get("private_key_file"):
            with open(settings["private_key_file"], encoding="ascii") as handle:
                secret = handle.read()
            # Bandit B105: the name of a client authentication method, not a password.
            client_kwargs["token_endpoint_auth_method"] = "private_key_jwt"  # nosec B105
            extra["client_auth_methods"] = [PrivateKeyJWT()]
        oauth.register(name, client_id=settings["client_id"], client_secret=secret,
                       server_metadata_url=settings["metadata_url"], client_kwargs=client_kwargs, **extra)


def providers(audience: str | None = None) -> list[tuple[str, str]]:
    """(name, audience) of the configured providers, in configuration order."""
    return [(name, s["audience"]) for name, s in current_app.config["OIDC_CLIENTS"].items()
            if audience in (None, s["audience"])]


def _settings(name: str) -> dict:
    return current_app.config["OIDC_CLIENTS"][name]


def _client(name: str):
    return current_app.extensions["authlib.integrations.flask_client"].create_client(name)


def is_provider(name: str) -> bool:
    return name in current_app.config["OIDC_CLIENTS"]


def _restrict_algorithms(client) -> None:
    """Never let the provider's discovery document widen what Lotsa accepts."""
    metadata = client.load_server_metadata()
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    metadata["id_token_signing_alg_values_supported"] = [a for a in offered if a in ACCEPTED_ALGORITHMS] or ["RS256"]


def authorize_redirect(name: str, locale: str | None, force_login: bool = False):
    """The redirect to the provider's login page (state, nonce, PKCE made by Authlib).

    ``force_login``: a re-authentication, so the provider must ask again
    (``prompt=login``) rather than reuse its own session.
    """
    client = _client(name)
    params = {"prompt": "login"} if force_login else {}
    if _settings(name).get("acr_values"):
        params["acr_values"] = _settings(name)["acr_values"]
    if locale:
        params["ui_locales"] = locale
    return client.authorize_redirect(external_url("auth.eid_callback", provider=name), **params)


def _token_alg(id_token: str) -> str | None:
    """The ``alg`` of a compact JWS, read before anything trusts it (for the refusal's reason)."""
    try:
        header = id_token.split(".", 1)[0]
        return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))).get("alg")
    except (ValueError, AttributeError):
        return None


def verified_claims(name: str) -> dict:
    """Finish the code flow at the callback: the ID token's claims, checked, or EidRefused."""
    client = _client(name)
    settings = _settings(name)
    try:
        _restrict_algorithms(client)
        token = client.authorize_access_token(
            # Both spelled out: Authlib checks the audience only when told to
            # (its default compares azp alone, which a token for another client may carry).
            claims_options={"iss": {"essential": True, "values": [str(settings["issuer"]).rstrip("/")]},
                            "aud": {"essential": True, "values": [settings["client_id"]]}},
            leeway=current_app.config["OIDC_CLOCK_SKEW_SECONDS"],
        )
    except MismatchingStateError:
        raise EidRefused("refused", "state does not match this browser's login") from None
    except OAuthError as exc:
        if exc.error in ("access_denied", "cancelled"):
            raise EidRefused("cancelled", f"provider answered {exc.error}") from None
        raise EidRefused("refused", f"provider error {str(exc.error)[:60]}") from None
    except ExpiredTokenError:
        raise EidRefused("refused", "ID token expired") from None
    except MissingClaimError as exc:
        raise EidRefused("refused", f"ID token claim {exc.claim} missing") from None
    except ClaimError as exc:
        raise EidRefused("refused", f"ID token claim {exc.claim} invalid") from None
    except InvalidKeyIdError:
        raise EidRefused("refused", "ID token signed with an unknown key") from None
    except BadSignatureError:
        raise EidRefused("refused", "ID token signature invalid") from None
    except JoseError as exc:
        raise EidRefused("refused", f"ID token not accepted ({type(exc).__name__})") from None
    except requests.RequestException as exc:
        raise EidRefused("refused", f"provider unreachable ({type(exc).__name__})") from None
    id_token = token.get("id_token")
    claims = token.get("userinfo")
    if not id_token or claims is None:
        raise EidRefused("refused", "no ID token in the token response")
    # Authlib has checked the signature with the algorithms left above; this
    # guards the rule itself, whatever a future version does with "none".
    if _token_alg(id_token) not in ACCEPTED_ALGORITHMS:
        raise EidRefused("refused", f"ID token algorithm {str(_token_alg(id_token))[:20]} not accepted")
    wanted = (settings.get("acr_values") or "").split()
    if wanted and claims.get("acr") not in wanted:
        raise EidRefused("refused", f"assurance level {str(claims.get('acr'))[:60]} not requested")
    return dict(claims)


# --- whom a verified identity becomes ------------------------------------------


def _number_claim(claims: dict, setting: str) -> str | None:
    raw = claims.get(current_app.config[setting])
    if not raw:
        return None
    try:
        return normalise_personal_number(str(raw))
    except IdentityError:
        return None


def has_care_relation(user: User) -> bool:
    """A care unit has opened access for this patient: an invitation, an account, or an enrolment."""
    if user.has_password:
        return True
    invited = db.session.scalar(select(AuthToken.id).where(
        AuthToken.user_id == user.id, AuthToken.purpose == TokenPurpose.INVITATION.value).limit(1))
    if invited is not None:
        return True
    # The programme knows about enrolments; auth may not look there itself.
    return any(result for _receiver, result in care_relation_requested.send(user))


def _claimed_name(claims: dict) -> str:
    name = str(claims.get("name") or "").strip()
    if not name:
        name = " ".join(str(claims.get(k) or "").strip() for k in ("given_name", "family_name")).strip()
    return name[:200]


def register_resident(number: str, claims: dict) -> User:
    """A bare patient account for a resident who refers themselves: no password, no enrolment, no access.

    The e-mail address is a placeholder until the resident gives theirs with
    the request (it is the login name of local logins, which they do not use).
    """
    user = User(role=Role.PATIENT.value, email=f"self-referral-{secrets.token_hex(8)}@invalid",
                full_name=_claimed_name(claims), personal_number=number, locale="sv", totp_last_step=0,
                failed_login_count=0, is_active_account=True)
    db.session.add(user)
    db.session.flush()
    security_event("eid_self_registered", user, "patient account made at a self-referral e-ID login")
    return user


def match_patient(claims: dict, may_register: bool = False) -> User:
    """The patient account of the personal identity (or co-ordination) number, or EidRefused.

    ``may_register``: the login began on a self-referral page, so a resident
    without a care relation (or without an account: one is made) may log in;
    what they then reach is their own request and nothing else.

    When the person's co-ordination number has been replaced by a personal
    identity number, the provider names the old one in ``previousCoordinationNumber``:
    the account found by it keeps its history and takes the new number.
    """
    number = _number_claim(claims, "OIDC_PERSONAL_NUMBER_CLAIM")
    if number is None:
        raise EidRefused("refused", "no valid personal identity number claim")
    user = db.session.scalar(select(User).where(User.personal_number == number))
    if user is None:
        previous = _number_claim(claims, "OIDC_PREVIOUS_COORDINATION_NUMBER_CLAIM")
        if previous is not None:
            user = db.session.scalar(select(User).where(User.personal_number == previous))
            if user is not None and user.role == Role.PATIENT.value:
                user.personal_number = number
                security_event("identity_number_replaced", user, "co-ordination number replaced at e-ID login")
    if user is None and may_register:
        user = register_resident(number, claims)
    elif user is not None and user.role == Role.PATIENT.value and may_register:
        pass
    elif user is None or user.role != Role.PATIENT.value or not has_care_relation(user):
        raise EidRefused("no_access", "no enrolment or invitation for this identity number")
    if not user.is_active_account:
        raise EidRefused("inactive", f"account {user.id} is closed")
    return user


def match_staff(claims: dict) -> User:
    """The staff account with this HSA-id, or EidRefused; an unknown HSA-id gets no account."""
    hsa_id = str(claims.get(current_app.config["OIDC_HSA_ID_CLAIM"]) or "").strip().upper()
    if not hsa_id:
        raise EidRefused("refused", "no HSA-id claim")
    user = db.session.scalar(select(User).where(User.hsa_id == hsa_id))
    if user is None or not user.is_staff:
        raise EidRefused("unknown_staff", "no staff account has this HSA-id")
    if not user.is_active_account:
        raise EidRefused("inactive", f"account {user.id} is closed")
    return user


def complete_login(name: str, may_register: bool = False) -> EidLogin:
    """Verify the callback and find the account; raises EidRefused (its security event already written).

    ``may_register``: see :func:`match_patient` (patients' providers only).
    """
    try:
        claims = verified_claims(name)
        audience = _settings(name)["audience"]
        user = match_patient(claims, may_register) if audience == "patient" else match_staff(claims)
    except EidRefused as exc:
        security_event("eid_refused", None, f"provider {name}: {exc.detail}")
        raise
    return EidLogin(user=user, provider=name, acr=str(claims["acr"])[:255] if claims.get("acr") else None)


def first_login_spends_invitation(user: User) -> bool:
    """An invited patient's first e-ID login accepts the invitation (its links stop working)."""
    if user.has_password or user.last_login_at is not None:
        return False
    db.session.execute(update(AuthToken).where(
        AuthToken.user_id == user.id, AuthToken.purpose == TokenPurpose.INVITATION.value,
        AuthToken.used_at.is_(None)).values(used_at=utcnow()))
    return True


def logout_url(name: str) -> str | None:
    """RP-initiated logout at the provider, where its discovery names an end_session_endpoint."""
    if not is_provider(name):
        return None
    client = _client(name)
    try:
        if not client.load_server_metadata().get("end_session_endpoint"):
            return None
        result = client.create_logout_url(post_logout_redirect_uri=external_url("auth.login"),
                                          client_id=_settings(name)["client_id"])
    except requests.RequestException:
        return None
    return result["url"]
