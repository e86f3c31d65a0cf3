"""The Field mapping tab: each contact field → one of the account's data fields, or none.

The fields are the 26 customer fields and the lifetime order fields (``host.records``); the
amounts are in the store's currency, which their labels name (``Source.currency``).

Until the merchant saves, the destination mapper's defaults apply (``Mapper.default_mapping``).
A row whose suggested data field (``Destination.suggested_data_field_name``) is missing from the
account offers to create it; each row shows an example value from a real customer. A mapping cannot corrupt data: a data field takes at most
one store field, the types must fit (the mapper's ``accepted_types``) and the destination's
system fields (``Option.writable``) are neither offered nor accepted. A change that would send
contacts again is saved only once the merchant confirmed how many (``resend_count``).
"""

from __future__ import annotations

from datetime import datetime

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from host.db import db_session
from host.errors import SyncError
from host.models import ContactProfile
from host.plugins import get_plugins
from host.records import CONTACT_FIELDS, DATE_FIELDS, LIFETIME_FIELDS, MONEY_FIELDS, NUMBER_FIELDS
from host.records import field_kind as kind_of
from host.sync.contacts import profile_fields
from host.sync.ledger import payload_hash
from host.sync.mapping_changes import current_mapping, resend_count, save_mapping
from host.web.merchant import blueprint, destination_nouns, indefinite, upper_first
from host.web.merchant.forms import field_mapping_form
from host.web.merchant.lookups import destination, forget, lookup
from host.web.session import current_connection, merchant_required

EXAMPLE_SCAN = 1000  # the most recently updated customers looked at for example values
EXAMPLE_LENGTH = 60
TEXT_EXAMPLE = "first_name"  # the store fields the hint names the data field types of
DATE_EXAMPLE = "date_created"
NUMBER_EXAMPLE = "order_count"
ORDER_NUMBER_EXAMPLE = "last_order_number"
KIND_WORDS = {"date": "a date", "number": "a number", "text or number": "an order number"}


def suggested_name(key: str) -> str:
    """The data field name offered when creating one for ``key``: the destination's choice."""
    return destination().suggested_data_field_name(key)


def mapper():
    return get_plugins().mapper_for(current_connection().destination)


def data_field_type(key: str) -> str:
    """The type of a data field created for ``key``: the one the destination's mapper prefers."""
    accepted = mapper().accepted_types(key)
    if accepted:
        return accepted[0]
    return "Date" if key in DATE_FIELDS else "Numeric" if key in NUMBER_FIELDS else "String"


def field_kind(key: str) -> str:
    return KIND_WORDS.get(kind_of(key), "text")


def _shown(key: str, value) -> str:
    if key in DATE_FIELDS:
        try:
            return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M UTC")
        except ValueError:
            pass
    text = " ".join(str(value).split())
    return text if len(text) <= EXAMPLE_LENGTH else text[: EXAMPLE_LENGTH - 1] + "…"


def example_values() -> dict[str, str]:
    """Per store field, its value for the most recently updated customer that has one."""
    found: dict[str, str] = {}
    profiles = db_session().scalars(
        select(ContactProfile)
        .where(ContactProfile.connection_id == current_connection().id)
        .order_by(ContactProfile.updated_at.desc(), ContactProfile.id.desc())
        .limit(EXAMPLE_SCAN)
    )
    for profile in profiles:
        if not profile.customer:
            continue
        for key, value in profile_fields(profile).items():
            if key not in found and value is not None and str(value).strip():
                found[key] = _shown(key, value)
        if len(found) == len(CONTACT_FIELDS):
            break
    return found


def store_currency() -> str | None:
    """The store's currency, as its source knows it, asked once per request (a source that had
    to ask the store keeps the answer on the connection: committed here)."""
    if "store_currency" in g:
        return g.store_currency
    connection = current_connection()
    source = get_plugins().sources.get(connection.source)
    before = dict(connection.source_data or {})
    g.store_currency = source.currency(connection) if source is not None else None
    if dict(connection.source_data or {}) != before:
        db_session().commit()
    return g.store_currency


def field_labels() -> dict[str, str]:
    connection = current_connection()
    overrides = dict(getattr(get_plugins().sources.get(connection.source), "field_labels", {}) or {})
    labels = {key: overrides.get(key, label) for key, label in CONTACT_FIELDS.items()}
    currency = store_currency()
    if currency:
        labels.update({key: f"{labels[key]} ({currency})" for key in MONEY_FIELDS})
    return labels


def saved_mapping() -> dict[str, str]:
    return current_mapping(db_session(), current_connection(), mapper())


def _render(mapping: dict[str, str], errors: dict, status: int = 200, confirm: dict | None = None):
    data_fields = lookup("data_fields")
    return (
        render_template(
            "settings/field_mapping.html",
            active_tab="field_mapping",
            connection=current_connection(),
            labels=field_labels(),
            lifetime_fields=LIFETIME_FIELDS,
            mapping=mapping,
            data_fields=data_fields,
            existing=data_fields.names or set(),
            system_fields={option.name for option in data_fields.options if not option.writable},
            suggested_name=suggested_name,
            data_field_type=data_field_type,
            text_type=data_field_type(TEXT_EXAMPLE),
            date_type=data_field_type(DATE_EXAMPLE),
            number_type=data_field_type(NUMBER_EXAMPLE),
            order_number_types=" or ".join(mapper().accepted_types(ORDER_NUMBER_EXAMPLE)
                                            or [data_field_type(ORDER_NUMBER_EXAMPLE)]),
            system_field_example=destination().system_field_example,
            examples=example_values(),
            errors=errors,
            confirm=confirm,
        ),
        status,
    )


def _typed_mapping() -> dict[str, str]:
    return {key: request.form.get(f"map.{key}", "").strip() for key in CONTACT_FIELDS}


def _mapping_token(mapping: dict[str, str]) -> str:
    """Names the mapping a confirmation was shown for: a different one must be confirmed anew."""
    return payload_hash(mapping)[:16]


@blueprint.get("/field-mapping")
@merchant_required
def field_mapping():
    if not current_connection().is_connected:
        return redirect(url_for("settings.connect"))
    return _render(saved_mapping(), {})


def _save(typed: dict[str, str], done: str | None = None):
    """Validate the typed table and save it once confirmed: answers a page (the errors, or the
    confirmation of how many contacts will be re-sent, after ``done``: what was done already),
    or that count once saved."""
    form = {f"map.{key}": name for key, name in typed.items()}
    labels = field_labels()
    schema = field_mapping_form(
        labels,
        None if lookup("data_fields").error else lookup("data_fields").options,
        kinds={key: field_kind(key) for key in labels},
        accepted_types={key: mapper().accepted_types(key) for key in labels},
        account=destination().title,
        nouns=destination_nouns(),
    )
    try:
        loaded = schema.load(form)
    except ValidationError as error:
        return _render(typed, error.messages, 400)
    mapping = {key: name for key, name in loaded.items() if name}
    session, connection = db_session(), current_connection()
    count = 0
    if mapping != saved_mapping():
        count = resend_count(session, connection, mapper(), mapping)
        if count and request.form.get("confirm") != _mapping_token(mapping):
            return _render(typed, {}, confirm={"count": count, "token": _mapping_token(mapping), "done": done})
    save_mapping(session, connection, mapper(), mapping)
    session.commit()
    return count


def _saved_message(count: int) -> str:
    nouns = destination_nouns()
    if not count:
        return f"It applies from the next sync; no {nouns['contact']} needs to be sent again."
    contacts = f"1 {nouns['contact']}" if count == 1 else f"{count} {nouns['contacts']}"
    return f"It applies from the next sync, which re-sends {contacts}: those whose mapped values changed."


@blueprint.post("/field-mapping")
@merchant_required
def field_mapping_submit():
    if not current_connection().is_connected:
        return redirect(url_for("settings.connect"))
    saved = _save(_typed_mapping())
    if not isinstance(saved, int):
        return saved
    flash(f"Field mapping saved. {_saved_message(saved)}", "success")
    return redirect(url_for("settings.field_mapping"))


@blueprint.post("/field-mapping/data-fields")
@merchant_required
def create_data_field():
    """Create the suggested data field for one row, map the row to it, and save the whole table."""
    if not current_connection().is_connected:
        return redirect(url_for("settings.connect"))
    key = request.form.get("create", "")
    typed = _typed_mapping()
    if key not in CONTACT_FIELDS:
        data_field = indefinite(destination_nouns()["data_field"])
        return _render(typed, {"_schema": [f"Choose a field to create {data_field} for."]}, 400)
    name = suggested_name(key)
    problem = destination().data_field_name_problem(name)
    if problem is None:
        try:
            created = destination().create_data_field(current_connection(), name, data_field_type(key))
        except SyncError as error:
            problem = error.message
    if problem is not None:
        return _render(typed, {f"map.{key}": [f"{name} could not be created: {problem}"]}, 400)
    forget("data_fields")
    typed[key] = created.name  # the table is saved as typed, with the new field in its row
    done = f"{upper_first(destination_nouns()['data_field'])} {created.name} created and mapped to {field_labels()[key]}."
    saved = _save(typed, done)
    if not isinstance(saved, int):
        return saved
    flash(f"{done} Mapping saved. {_saved_message(saved)}", "success")
    return redirect(url_for("settings.field_mapping"))
