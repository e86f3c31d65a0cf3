"""Sign-in links: how a merchant of a source without a marketplace (no signed load callback)
reaches the settings pages.

An admin runs ``flask --app host login-link [--source NAME] ACCOUNT [--minutes N]`` and gives the
merchant the URL it prints (on ``[host] public_url``). Opening it opens the same session a
verified load callback opens (``host.web.session.login_merchant``), bound to that connection and
its current installation, and leads to the Store tab (or the connect page, before a destination
account is connected). It works for every source, BigCommerce included.

The link is signed with the app's secret key (``itsdangerous.URLSafeTimedSerializer``, its own
salt, so no other signed value of the app is accepted as one), expires (15 minutes by default, at
most a day) and is accepted **once**: its random ``jti`` is kept in ``used_callback_tokens``
until the link expires. A link preview that opens it (some chat and mail clients do) uses it up:
print a new one. A tampered, expired or used link, or one for a store removed or installed again
since, is refused with a plain page (400 or 410) and opens nothing. The token is a query value
(``login_token``) that ``host.web.security`` scrubs from every log line; it is never logged.

The signed-in "user" is not a store user (the source never named one): the session records it
as ``{"id": None, "email": None, "via": "login_link"}`` (only this module sets ``via``), so a source's ``user_allowed`` check
(BigCommerce's remove_user) does not apply to it; the session ends like any other, after
``[host] session_idle_hours`` idle, or when the store is removed or installed again.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from host.db import db_session
from host.models import Connection, UsedCallbackToken, utcnow
from host.web.session import login_merchant, store_key

log = logging.getLogger(__name__)
blueprint = Blueprint("login_link", __name__)

SALT = "connector-host.login-link"
PATH = "/login-link"
PARAMETER = "login_token"  # scrubbed from logs (host.web.security.SIGNED_PARAMETERS)
DEFAULT_MINUTES = 15
MAX_MINUTES = 24 * 60
VIA = "login_link"  # host.web.session: a session that names no store user

NOT_VALID = ("This sign-in link is not valid: it may have been cut short or changed. Copy the whole "
             "link, or ask your administrator for a new one.")
EXPIRED = "This sign-in link has expired. Ask your administrator for a new one."
USED = "This sign-in link has already been used. Ask your administrator for a new one."
GONE = ("The store this sign-in link was made for has been removed or installed again since. Ask "
        "your administrator for a new link.")


class LinkRefused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _serializer(app: Flask) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.secret_key, salt=SALT)


def make_link(app: Flask, connection: Connection, *, minutes: int = DEFAULT_MINUTES) -> str:
    """A URL on the host's public URL that signs the merchant in to ``connection`` once, within
    ``minutes``. The caller vouches for whoever receives it."""
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValueError(f"a sign-in link lasts 1 to {MAX_MINUTES} minutes")
    public_url = str(app.config["HOST"].get("public_url") or "").rstrip("/")
    if not public_url:
        raise ValueError("[host] public_url is not set: the link needs the address merchants reach")
    token = _serializer(app).dumps(
        {
            "c": connection.id,
            "s": store_key(connection),
            "j": secrets.token_urlsafe(16),
            "e": int(time.time()) + minutes * 60,
        }
    )
    return f"{public_url}{PATH}?{urlencode({PARAMETER: token})}"


def _claims(token: str) -> dict:
    try:
        claims = _serializer(current_app).loads(token, max_age=MAX_MINUTES * 60 + 60)
    except SignatureExpired:
        raise LinkRefused(EXPIRED, 410) from None
    except BadSignature:
        raise LinkRefused(NOT_VALID, 400) from None
    if not (
        isinstance(claims, dict)
        and isinstance(claims.get("c"), int)
        and isinstance(claims.get("s"), str)
        and isinstance(claims.get("j"), str)
        and isinstance(claims.get("e"), int)
    ):
        raise LinkRefused(NOT_VALID, 400)
    if time.time() > claims["e"]:
        raise LinkRefused(EXPIRED, 410)
    return claims


def _use(session, claims: dict, connection: Connection) -> None:
    """Remember the link's ``jti`` until it expires; ``LinkRefused`` when it was used before."""
    now = utcnow()
    session.execute(delete(UsedCallbackToken).where(UsedCallbackToken.expires_at < now))
    try:
        with session.begin_nested():
            session.add(
                UsedCallbackToken(
                    token_key=f"login_link:{claims['j']}"[:255],
                    source=connection.source[:64],
                    account=connection.source_account[:255],
                    callback="login_link",
                    used_at=now,
                    expires_at=max(datetime.fromtimestamp(claims["e"], UTC), now),
                )
            )
    except IntegrityError:
        raise LinkRefused(USED, 410) from None


def _refused(error: LinkRefused):
    response = current_app.make_response(
        (render_template("settings/error.html", title="Sign-in link not accepted", message=error.message),
         error.status)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get(PATH)
def open_link():
    token = request.args.get(PARAMETER, "")
    session = db_session()
    try:
        if not token:
            raise LinkRefused(NOT_VALID, 400)
        claims = _claims(token)
        connection = session.get(Connection, claims["c"])
        if connection is None or store_key(connection) != claims["s"]:
            raise LinkRefused(GONE, 410)
        _use(session, claims, connection)
    except LinkRefused as error:
        session.rollback()
        log.warning("Refused a sign-in link (HTTP %d): %s", error.status, error.message)
        return _refused(error)
    session.commit()
    login_merchant(connection, {"id": None, "email": None}, via=VIA)
    log.info("Signed in to connection %s through a sign-in link", connection.id)
    endpoint = "settings.store" if connection.is_connected else "settings.connect"
    response = redirect(url_for(endpoint))
    response.headers["Cache-Control"] = "no-store"
    return response
