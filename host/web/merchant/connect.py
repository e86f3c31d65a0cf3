"""Connecting the store to a marketing account, and disconnecting it (staging → production).

The form's fields are the destination's ``credential_fields``: typed text is kept on an error,
a password field is never echoed back. A failed check
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
from host.web.merchant.forms import connect_form
from host.web.session import current_connection, merchant_required


def _destinations() -> dict:
    return get_plugins().destinations


def _chosen(name: str | None):
    """The destination whose form is shown: the one named, else the first enabled (or None)."""
    destinations = _destinations()
    return destinations.get(name or "") or next(iter(destinations.values()), None)


def _render(form: dict, errors: dict, status: int = 200):
    destinations = _destinations()
    chosen = _chosen(form.get("destination"))
    return (
        render_template(
            "settings/connect.html",
            connection=current_connection(),
            destinations=destinations,
            chosen=chosen,
            credential_fields=chosen.credential_fields if chosen else (),
            form=form,
            errors=errors,
        ),
        status,
    )


@blueprint.get("/connect")
@merchant_required
def connect():
    chosen = _chosen(request.args.get("destination"))
    return _render({"destination": chosen.name if chosen else ""}, {})


@blueprint.post("/connect")
@merchant_required
def connect_submit():
    destinations = _destinations()
    if len(destinations) == 1:
        name = next(iter(destinations))
    else:
        name = request.form.get("destination", "")
    chosen = _chosen(name)
    credential_fields = chosen.credential_fields if chosen else ()
    # What the form shows again on an error: the typed text, never a password.
    form = {"destination": name}
    form.update({field.name: request.form.get(field.name, "") for field in credential_fields if field.type != "password"})
    try:
        data = connect_form(destinations.keys(), credential_fields).load({**request.form, "destination": name})
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
            {field.name: data[field.name] for field in credential_fields},
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
