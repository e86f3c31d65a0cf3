"""Verification of ``signed_payload_jwt`` on the load, uninstall and remove_user callbacks.

HS256 only, signed with the app's client secret; audience = the client id, issuer ``bc``,
subject ``stores/{hash}``; expiry and not-before checked with a small leeway for clock skew
(bigcommerce-api.md §1.5).
"""

from __future__ import annotations

from typing import Any

import jwt

LEEWAY_SECONDS = 30
ISSUER = "bc"


class InvalidCallback(Exception):
    """The callback cannot be trusted; the message is for logs, not for the caller."""


def verify(token: str | None, *, client_id: str, client_secret: str) -> dict[str, Any]:
    """The verified claims, with ``store_hash`` added; raises ``InvalidCallback``."""
    if not token:
        raise InvalidCallback("no signed_payload_jwt")
    if not client_id or not client_secret:
        raise InvalidCallback("the app's client id or secret is not configured")
    try:
        claims = jwt.decode(
            token,
            client_secret,
            algorithms=["HS256"],
            audience=client_id,
            issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": ["aud", "iss", "sub", "exp", "nbf", "iat"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidCallback(f"{type(error).__name__}: {error}") from None
    subject = str(claims.get("sub") or "")
    store_hash = subject.removeprefix("stores/")
    if not subject.startswith("stores/") or not store_hash or "/" in store_hash:
        raise InvalidCallback("the subject is not a store")
    if not isinstance(claims.get("user"), dict) or claims["user"].get("id") is None:
        raise InvalidCallback("the payload names no user")
    return {**claims, "store_hash": store_hash}
