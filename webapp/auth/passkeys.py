"""Passkeys (WebAuthn) as the second factor of a local login, with the ``webauthn`` library.

The relying party is Lotsa's public address (BASE_URL): its host name is the
RP ID and its origin the only origin accepted. The challenge of a ceremony
lives in the signed cookie session for the one request that answers it (a
challenge is no secret; it only has to be the one this server made).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

from flask import current_app, session
from sqlalchemy import select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from webapp.auth.models import Passkey, User
from webapp.core.db import utcnow
from webapp.extensions import db

RP_NAME = "Lotsa"


class PasskeyError(Exception):
    """A ceremony that did not verify; ``reason`` for the security event."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _rp() -> tuple[str, str]:
    """(RP ID, origin) from BASE_URL."""
    parts = urlsplit(current_app.config["BASE_URL"])
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def passkeys_of(user: User) -> list[Passkey]:
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)))


def registration_options(user: User) -> str:
    """Options for navigator.credentials.create(), as JSON; the challenge is kept for the answer."""
    rp_id, _origin = _rp()
    options = generate_registration_options(
        rp_id=rp_id, rp_name=RP_NAME, user_id=f"lotsa-{user.id}".encode(), user_name=user.email,
        user_display_name=user.full_name,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in passkeys_of(user)],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED))
    session["passkey_challenge"] = _b64(options.challenge)
    return options_to_json(options)


def register(user: User, credential: dict) -> Passkey:
    """Verify the browser's answer to the registration options and keep the new passkey."""
    if not isinstance(credential, dict):
        raise PasskeyError("not a credential")
    challenge = session.pop("passkey_challenge", None)
    if not challenge:
        raise PasskeyError("no registration in progress")
    rp_id, origin = _rp()
    try:
        verified = verify_registration_response(credential=json.dumps(credential), expected_challenge=_unb64(challenge),
                                                expected_rp_id=rp_id, expected_origin=origin)
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyError(f"registration not verified ({type(exc).__name__})") from None
    if db.session.scalar(select(Passkey.id).where(Passkey.credential_id == verified.credential_id)):
        raise PasskeyError("credential already registered")
    passkey = Passkey(user_id=user.id, credential_id=verified.credential_id,
                      public_key=verified.credential_public_key, sign_count=verified.sign_count)
    db.session.add(passkey)
    return passkey


def authentication_options(user: User) -> str:
    """Options for navigator.credentials.get(), limited to this person's passkeys, as JSON."""
    rp_id, _origin = _rp()
    options = generate_authentication_options(
        rp_id=rp_id, allow_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in passkeys_of(user)],
        user_verification=UserVerificationRequirement.PREFERRED)
    session["passkey_challenge"] = _b64(options.challenge)
    return options_to_json(options)


def authenticate(user: User, credential: dict) -> Passkey:
    """Verify a passkey assertion for this person; the signature counter must move forward."""
    if not isinstance(credential, dict):
        raise PasskeyError("not a credential")
    challenge = session.pop("passkey_challenge", None)
    if not challenge:
        raise PasskeyError("no passkey login in progress")
    try:
        raw_id = _unb64(str(credential.get("rawId") or credential.get("id") or ""))
    except (ValueError, AttributeError):
        raise PasskeyError("credential id unreadable") from None
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == raw_id, Passkey.user_id == user.id))
    if passkey is None:
        raise PasskeyError("not one of this person's passkeys")
    rp_id, origin = _rp()
    try:
        verified = verify_authentication_response(
            credential=json.dumps(credential), expected_challenge=_unb64(challenge), expected_rp_id=rp_id,
            expected_origin=origin, credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count)
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyError(f"assertion not verified ({type(exc).__name__})") from None
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    return passkey
