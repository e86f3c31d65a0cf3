"""Connecting the store to a marketing account, and disconnecting it (staging → production).

The typed username is kept on an error; the password is never echoed back. A failed check
changes nothing: ``host.connections.connect`` only links the account once the check passed.
Connecting after a disconnect, or to another account, starts that account's full sync at once
(not five minutes after the old account's last cycle). Disconnecting asks for a confirmation first, as removing the connection does; a sync
that is running stops at its next page boundary (``host.sync.forget``).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from host import connections
from host.db import db_session
from host.errors import SyncError
from host.plugins import get_plugins
from host.web.merchant import blueprint
from host.web.merchant.forms import ConnectForm
from host.web.session import current_connection, merchant_required


def _destinations() -> dict:
    return get_plugins().destinations


def _render(form: dict, errors: dict, status: int = 200):
    destinations = _destinations()
    return (
        render_template(
            "settings/connect.html",
            connection=current_connection(),
            destinations=destinations,
            form=form,
            errors=errors,
        ),
        status,
    )


@blueprint.get("/connect")
@merchant_required
def connect():
    destinations = _destinations()
    return _render({"destination": next(iter(destinations), "")}, {})


@blueprint.post("/connect")
@merchant_required
def connect_submit():
    form = {key: request.form.get(key, "") for key in ("destination", "username")}
    if len(_destinations()) == 1:
        form["destination"] = next(iter(_destinations()))
    try:
        data = ConnectForm(_destinations().keys()).load({**request.form, **form})
    except ValidationError as error:
        return _render(form, error.messages, 400)
    connection = current_connection()
    session = db_session()
    try:
        connections.connect(
            session,
            get_plugins(),
            connection,
            data["destination"],
            {"username": data["username"], "password": data["password"]},
        )
    except SyncError as error:
        session.rollback()
        return _render(form, {"_schema": [error.message]}, 400)
    session.commit()
    if connection.sync_requested_at is not None:  # another account's full sync: at once
        from host.scheduler import request_sync

        request_sync(connection.id)
    flash(f"Connected to {connection.destination_account}.", "success")
    return redirect(url_for("settings.store"))


@blueprint.get("/disconnect")
@merchant_required
def disconnect_confirm():
    connection = current_connection()
    if not connection.is_connected:
        return redirect(url_for("settings.connect"))
    return render_template("settings/disconnect.html", connection=connection)


@blueprint.post("/disconnect")
@merchant_required
def disconnect():
    connection = current_connection()
    if connection.is_connected:
        account = connection.destination_account
        connections.disconnect(db_session(), connection)
        db_session().commit()
        flash(f"Disconnected from {account}. Connect an account to sync again.", "success")
    return redirect(url_for("settings.connect"))
