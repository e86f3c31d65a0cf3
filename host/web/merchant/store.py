"""The Store tab: connected store, Data sync and Sync now, Contacts and Automation, problems,
refused records and enrolments with Retry, and Store access (remove the connection, after a
confirmation)."""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, session, url_for
from marshmallow import ValidationError
from sqlalchemy import update

from host import connections
from host.db import db_session
from host.destinations import Destination, supports_erasure
from host.models import Enrolment
from host.plugins import get_plugins
from host.settings import get_settings, save_settings
from host.sync.ledger import retry_now
from host.web.merchant import blueprint, destination_nouns
from host.web.merchant import destination_title as destination_title_of
from host.web.merchant.forms import BOOK_FIELDS, PROGRAM_FIELDS, StoreSettingsForm
from host.web.merchant.health import health_status
from host.web.merchant.lookups import lookup
from host.web.merchant.status import sync_status
from host.web.session import current_connection, merchant_required


def _destination_title() -> str:
    destination = get_plugins().destinations.get(current_connection().destination or "")
    return destination.title if destination is not None else "the destination"


def _can_erase() -> bool:
    """Whether the connected destination can erase contacts (else only removal is offered)."""
    return supports_erasure(get_plugins().destinations.get(current_connection().destination or ""))


def _sync_status() -> dict[str, Any]:
    status = sync_status(db_session(), current_connection(), destination_title=_destination_title(),
                         nouns=destination_nouns())
    # health at a glance, the last full sync and the instant updates (``host.web.merchant.health``)
    status.update(health_status(db_session(), current_connection(), max_attempts=status["max_attempts"]))
    return status


def _saved_values() -> dict[str, Any]:
    connection = current_connection()
    values = {
        **get_settings(db_session(), connection, "contacts"),
        **get_settings(db_session(), connection, "automation"),
    }
    values["double_opt_in"] = "yes" if values.get("double_opt_in") else "no"
    values["write_back_unsubscribes"] = "yes" if values.get("write_back_unsubscribes", True) else "no"
    return values


def _write_back() -> dict[str, Any]:
    """Whether unsubscribes at the destination can be written back to this store (the Contacts
    section's setting and its notice): the destination must read them, the source write them."""
    connection = current_connection()
    plugins = get_plugins()
    source = plugins.sources.get(connection.source)
    destination = plugins.destinations.get(connection.destination or "")
    reads = destination is not None and type(destination).unsubscribes_since is not Destination.unsubscribes_since
    return {
        "offered": reads and source is not None,
        "allowed": bool(reads and source is not None and source.can_write_unsubscribes(connection)),
        "help": getattr(source, "write_access_help", "") or "",
        "source_title": getattr(source, "title", "your store"),
    }


def _render_store(values: dict[str, Any], errors: dict, status: int = 200):
    connection = current_connection()
    sync = _sync_status()
    return (
        render_template(
            "settings/store.html",
            active_tab="store",
            connection=connection,
            values=values,
            errors=errors,
            books=lookup("address_books"),
            programs=lookup("programs"),
            sync=sync,
            destination_title=_destination_title(),
            requested=connection.sync_requested_at is not None,
            poll=bool(sync["running"]) or connection.sync_requested_at is not None
            or request.args.get("requested") == "1",
            book_fields=BOOK_FIELDS,
            program_fields=PROGRAM_FIELDS,
            write_back=_write_back(),
            can_erase=_can_erase(),
        ),
        status,
    )


def _require_connected():
    if not current_connection().is_connected:
        return redirect(url_for("settings.connect"))
    return None


@blueprint.get("/")
@blueprint.get("/store")
@merchant_required
def store():
    return _require_connected() or _render_store(_saved_values(), {})


@blueprint.post("/store")
@merchant_required
def store_submit():
    if (redirected := _require_connected()) is not None:
        return redirected
    form = StoreSettingsForm(
        lookup("address_books").ids,
        lookup("programs").ids,
        account=_destination_title(),
        nouns=destination_nouns(),
        can_erase=_can_erase(),
    )
    typed = request.form.to_dict()
    try:
        data = form.load(typed)
    except ValidationError as error:
        return _render_store({**_saved_values(), **typed}, error.messages, 400)
    connection = current_connection()
    contacts = {name: data[name] for name in (*BOOK_FIELDS, "consent_text", "deleted_contacts")}
    contacts["double_opt_in"] = data["double_opt_in"] == "yes"
    contacts["write_back_unsubscribes"] = data["write_back_unsubscribes"] == "yes"
    save_settings(db_session(), connection, "contacts", contacts)
    save_settings(db_session(), connection, "automation", {name: data[name] for name in PROGRAM_FIELDS})
    db_session().commit()
    flash("Settings saved. They apply from the next sync.", "success")
    return redirect(url_for("settings.store"))


@blueprint.get("/store/status")
@merchant_required
def store_status():
    """The live sync status, polled by the Store tab while a run is active."""
    return jsonify(_sync_status())


def _retry_enrolments(connection_id: int, ids: list[int] | None) -> int:
    """Refused enrolments, and those a program that was not active could not take (``ids``, or
    all of the connection's), wait again as new: the next sync sends them."""
    from host.web.merchant.attention import RETRYABLE_ENROLMENTS

    statement = update(Enrolment).where(
        Enrolment.connection_id == connection_id, Enrolment.state.in_(RETRYABLE_ENROLMENTS)
    )
    if ids is not None:
        statement = statement.where(Enrolment.id.in_(ids))
    values = {"state": "pending", "attempts": 0, "due_at": None, "reason": None}
    return db_session().execute(statement.values(**values)).rowcount or 0


def _form_ids(name: str) -> list[int]:
    return [int(value) for value in request.form.getlist(name) if value.isdigit()]


@blueprint.post("/store/retry")
@merchant_required
def retry():
    """Retry one refused record (``record``) or enrolment (``enrolment``), or all (``all``), of
    one area when the list is filtered (``area``)."""
    from host.web.merchant.attention import chosen_area, record_ids_in_area

    connection = current_connection()
    everything = request.form.get("all") == "1"
    area = chosen_area(request.form.get("area"))
    record_ids = _form_ids("record") if not everything else record_ids_in_area(connection, area)
    enrolment_ids = _form_ids("enrolment") if not everything else None
    if everything and area and area != "enrolments":
        enrolment_ids = []
    records = retry_now(db_session(), connection.id, record_ids) if record_ids != [] else 0
    enrolments = _retry_enrolments(connection.id, enrolment_ids) if enrolment_ids != [] else 0
    db_session().commit()
    parts = [
        f"{count} {noun if count == 1 else noun + 's'}"
        for count, noun in ((records, "record"), (enrolments, "enrolment"))
        if count
    ]
    if parts:
        flash(f"{' and '.join(parts)} will be retried at the next sync.", "success")
    else:
        flash("Nothing to retry: it was sent or changed meanwhile.", "info")
    return redirect(url_for("settings.store", area=area or None, _anchor="needs-attention"))


@blueprint.post("/store/data-sync")
@merchant_required
def data_sync():
    connection = current_connection()
    connection.sync_enabled = request.form.get("enabled") == "on"
    db_session().commit()
    flash("Data sync is on." if connection.sync_enabled else "Data sync is off: nothing syncs until you turn it on.",
          "success")
    return redirect(url_for("settings.store"))


@blueprint.post("/store/sync-now")
@merchant_required
def sync_now():
    if (redirected := _require_connected()) is not None:
        return redirected
    connection = current_connection()
    if not connection.sync_enabled:
        flash("Data sync is off: turn it on to sync.", "error")
        return redirect(url_for("settings.store"))
    from host.scheduler import request_sync

    request_sync(connection.id)
    flash("Sync requested: it starts in a few seconds.", "success")
    return redirect(url_for("settings.store", requested=1))


@blueprint.get("/store/remove")
@merchant_required
def remove_confirm():
    return render_template("settings/remove.html", active_tab="store", connection=current_connection())


@blueprint.post("/store/remove")
@merchant_required
def remove():
    """Stop syncing, delete the webhooks (through the plugins), purge secrets, end the session."""
    connection = current_connection()
    store_name = connection.store_name
    destination_title = destination_title_of(connection)  # before the connection is gone
    nouns = destination_nouns(connection)
    connections.remove(db_session(), get_plugins(), connection)
    db_session().commit()
    session.clear()
    return render_template("settings/removed.html", store_name=store_name, destination_title=destination_title,
                           nouns=nouns)
