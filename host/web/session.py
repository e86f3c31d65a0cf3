"""The merchant's session: opened only by a verified load (or install) callback, bound to one store."""

from __future__ import annotations

import functools
from typing import Any

from flask import abort, g, session

from host.db import db_session
from host.models import Connection
from host.plugins import get_plugins


def login_merchant(connection: Connection, user: dict[str, Any]) -> None:
    """Bind this browser session to one connection and user (call only after verifying the caller)."""
    session.clear()
    session["connection_id"] = connection.id
    session["user"] = {"id": user.get("id"), "email": user.get("email")}
    session.permanent = True


def current_connection() -> Connection:
    """The connection this session may see; 401 when none was opened by a verified callback."""
    if "connection" not in g:
        connection_id = session.get("connection_id")
        connection = db_session().get(Connection, connection_id) if connection_id else None
        if connection is None or not _user_still_allowed(connection):
            session.clear()
            abort(401, description="Open the app from your store's control panel to sign in.")
        g.connection = connection
    return g.connection


def _user_still_allowed(connection: Connection) -> bool:
    """A user removed from the app in the store loses the session they already had."""
    source = get_plugins().sources.get(connection.source)
    user_id = (session.get("user") or {}).get("id")
    return source is None or source.user_allowed(connection, user_id)


def merchant_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        current_connection()
        return view(*args, **kwargs)

    return wrapped
