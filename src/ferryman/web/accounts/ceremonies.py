"""The WebAuthn checks of a passkey ceremony, through py_webauthn, in plain values.

Imported by ``passkeys`` only when a ceremony starts, not with the app: py_webauthn
brings cryptography, pyOpenSSL, pyasn1 and cbor2 (~0.13 CPU-s and 150 modules), which
every ``ferryman web`` start paid though most never see a passkey."""

from __future__ import annotations

import json
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)


class Refused(Exception):
    """The browser's answer failed a check; the message says which."""


def registration_options(rp_id: str, name: str, account: int) -> tuple[bytes, dict[str, Any]]:
    """(challenge, options for ``navigator.credentials.create``): a discoverable passkey."""
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name="ferryman",
        user_name=name,
        user_id=str(account).encode(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return options.challenge, json.loads(options_to_json(options))


def authentication_options(rp_id: str) -> tuple[bytes, dict[str, Any]]:
    """(challenge, options for ``navigator.credentials.get``): any of this site's passkeys."""
    options = generate_authentication_options(
        rp_id=rp_id, user_verification=UserVerificationRequirement.PREFERRED
    )
    return options.challenge, json.loads(options_to_json(options))


def verify_registration(
    credential: dict[str, Any], challenge: bytes, rp_id: str, origin: str
) -> tuple[str, str, int]:
    """(credential id, public key, both base64url; sign count) of a passkey just made."""
    try:
        made = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError) as exc:
        raise Refused(str(exc)) from None
    return (
        bytes_to_base64url(made.credential_id),
        bytes_to_base64url(made.credential_public_key),
        made.sign_count,
    )


def verify_authentication(
    credential: dict[str, Any],
    challenge: bytes,
    rp_id: str,
    origin: str,
    public_key: str,
    sign_count: int,
) -> int:
    """The passkey's new sign count once its signature over ``challenge`` checks out."""
    try:
        checked = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=base64url_to_bytes(public_key),
            credential_current_sign_count=sign_count,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError) as exc:
        raise Refused(str(exc)) from None
    return checked.new_sign_count
