"""The merchant's session: opened only by a verified load (or install) callback, or by an admin's
signed sign-in link (``host.web.login_link``), bound to one store.

The session names the connection, the store it belongs to and the moment that store was
installed (so a connection id reused after an uninstall opens nothing), and the user the
callback named (a user removed from the app loses it at once). It ends after
``[host] session_idle_hours`` (8, a working day) without a request.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from flask import abort, current_app, g, session

from host.db import db_session
from host.models import Connection
from host.plugins import get_plugins

DEFAULT_IDLE_HOURS = 8.0
SEEN_EVERY_SECONDS = 60  # "last seen" is written at most this often
SIGN_IN = "Open the app from your store's control panel to sign in."
ENDED = ("Your session ended after a working day without use. Open the app again from your "
         "store's control panel.")


def idle_seconds() -> float:
    return float(current_app.config["HOST"].get("session_idle_hours", DEFAULT_IDLE_HOURS)) * 3600


def store_key(connection: Connection) -> str:
    """The store and the installation a session belongs to (not only the connection's id)."""
    installed = int(connection.installed_at.timestamp()) if connection.installed_at else 0
    return f"{connection.source}:{connection.source_account}:{installed}"


def session_values(connection: Connection, user: dict[str, Any], *, via: str | None = None) -> dict[str, Any]:
    """What a verified callback puts in the session for ``connection`` and ``user``; ``via`` names
    a sign-in that is not a store user's (``"login_link"``: an admin's sign-in link)."""
    return {
        "connection_id": connection.id,
        "store": store_key(connection),
        "user": {"id": user.get("id"), "email": user.get("email"), **({"via": via} if via else {})},
        "seen": int(time.time()),
    }


def login_merchant(connection: Connection, user: dict[str, Any], *, via: str | None = None) -> None:
    """Bind this browser session to one connection and user (call only after verifying the caller)."""
    session.clear()
    session.update(session_values(connection, user, via=via))
    session.permanent = True


def _control_panel_origin(connection: Connection) -> str | None:
    from host.web.security import control_panel_origin

    return control_panel_origin(get_plugins(), connection)


def _refusal(connection: Connection | None) -> str | None:
    """Why this session may not see ``connection`` (None: it may)."""
    if connection is None or session.get("store") != store_key(connection):
        return SIGN_IN
    seen = session.get("seen")
    if not isinstance(seen, int) or time.time() - seen > idle_seconds():
        return ENDED
    if not _user_still_allowed(connection):
        return SIGN_IN
    return None


def current_connection() -> Connection:
    """The connection this session may see; 401 when none was opened by a verified callback,
    when it belongs to another store or installation, or when it was idle too long."""
    if "connection" not in g:
        connection_id = session.get("connection_id")
        connection = db_session().get(Connection, connection_id) if connection_id else None
        refusal = _refusal(connection)
        if refusal:
            if connection is not None and session.get("store") == store_key(connection):
                g.frame_origin = _control_panel_origin(connection)  # its 401 page stays framed
            session.clear()
            abort(401, description=refusal)
        if time.time() - session["seen"] > SEEN_EVERY_SECONDS:
            session["seen"] = int(time.time())
        session.permanent = True  # the cookie expires with the idle limit, not with the browser
        g.connection = connection
    return g.connection


def _user_still_allowed(connection: Connection) -> bool:
    """A user removed from the app in the store loses the session they already had. A session
    opened by an admin's sign-in link (host.web.login_link) names no store user: not asked."""
    if (session.get("user") or {}).get("via") == "login_link":
        return True
    source = get_plugins().sources.get(connection.source)
    user_id = (session.get("user") or {}).get("id")
    return source is None or source.user_allowed(connection, user_id)


def merchant_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        current_connection()
        return view(*args, **kwargs)

    return wrapped
