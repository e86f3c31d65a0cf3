"""``signed_payload_jwt`` as BigCommerce signs it (§1.5), and bad ones for negative tests.

Claims follow both official examples: ``nbf = iat - 5`` and ``exp = iat + 86400`` (the
docs' table says nbf = iat and exp = nbf + 24 h; the examples win). HS256 with the app's
client secret.
"""

from __future__ import annotations

import time
import uuid

import jwt

BAD_KINDS = ("expired", "not_yet_valid", "wrong_audience", "wrong_secret", "wrong_issuer",
             "alg_none", "tampered", "hs512")


def make_claims(client_id: str, store_hash: str, user: dict, owner: dict, url: str = "/",
                channel_id: int | None = None, now: int | None = None) -> dict:
    """All documented claims: aud, iss, iat, nbf, exp, jti, sub, user{id,email,locale}, owner, url, channel_id."""
    issued = int(time.time()) if now is None else now
    return {
        "aud": client_id, "iss": "bc", "iat": issued, "nbf": issued - 5, "exp": issued + 86400,
        "jti": str(uuid.uuid4()), "sub": f"stores/{store_hash}",
        "user": {"id": user["id"], "email": user["email"], "locale": user.get("locale", "en-US")},
        "owner": {"id": owner["id"], "email": owner["email"]},
        "url": url, "channel_id": channel_id,
    }


def sign_payload_jwt(claims: dict, client_secret: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, client_secret, algorithm=algorithm)


def signed_payload_jwt(client_id: str, client_secret: str, store_hash: str, user: dict, owner: dict,
                       url: str = "/", channel_id: int | None = None) -> str:
    """A valid token, as the control panel would send it."""
    return sign_payload_jwt(make_claims(client_id, store_hash, user, owner, url, channel_id), client_secret)


def bad_payload_jwt(kind: str, client_id: str, client_secret: str, store_hash: str, user: dict | None = None,
                    owner: dict | None = None) -> str:
    """A token an app must reject. ``kind`` is one of ``BAD_KINDS``:
    expired, not_yet_valid, wrong_audience, wrong_secret, wrong_issuer, alg_none, tampered,
    hs512 (valid signature but an algorithm BigCommerce never uses; strict apps refuse it)."""
    user = user or {"id": 1, "email": "user@example.com", "locale": "en-US"}
    owner = owner or {"id": 1, "email": "owner@example.com"}
    now = int(time.time())
    claims = make_claims(client_id, store_hash, user, owner, now=now)
    if kind == "expired":
        claims = make_claims(client_id, store_hash, user, owner, now=now - 2 * 86400)
    elif kind == "not_yet_valid":
        claims |= {"iat": now + 3600, "nbf": now + 3600, "exp": now + 90000}
    elif kind == "wrong_audience":
        claims["aud"] = client_id + "-other"
    elif kind == "wrong_issuer":
        claims["iss"] = "not-bc"
    elif kind == "wrong_secret":
        return sign_payload_jwt(claims, client_secret + "-wrong")
    elif kind == "alg_none":
        return jwt.encode(claims, None, algorithm="none")
    elif kind == "hs512":
        return sign_payload_jwt(claims, client_secret, "HS512")
    elif kind == "tampered":
        header, payload, signature = sign_payload_jwt(claims, client_secret).split(".")
        other = sign_payload_jwt(claims | {"sub": "stores/someoneelse"}, client_secret).split(".")[1]
        return ".".join((header, other, signature))
    else:
        raise ValueError(f"unknown kind {kind!r}; expected one of {BAD_KINDS}")
    return sign_payload_jwt(claims, client_secret)
