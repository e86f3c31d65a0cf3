"""The Field mapping tab: each of the 26 contact fields → one of the account's data fields, or none.

Until the merchant saves, the destination mapper's defaults apply (FIRSTNAME ← first name, …).
A row whose suggested data field is missing from the account offers to create it.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from host.db import db_session
from host.errors import SyncError
from host.plugins import get_plugins
from host.records import CONTACT_FIELDS, DATE_FIELDS
from host.settings import get_settings, save_settings
from host.web.merchant import blueprint
from host.web.merchant.forms import DATA_FIELD_NAME, field_mapping_form
from host.web.merchant.lookups import destination, forget, lookup
from host.web.session import current_connection, merchant_required

# Field keys whose plain upper-case name is reserved by Engagement Cloud ("notes") or unclear.
SUGGESTED_NAMES = {"notes": "CUSTOMER_NOTE", "date_created": "CUSTOMER_CREATED"}


def suggested_name(key: str) -> str:
    """The data field name offered when creating one for ``key`` (≤ 20 characters)."""
    return SUGGESTED_NAMES.get(key, key.upper()[:20])


def data_field_type(key: str) -> str:
    return "Date" if key in DATE_FIELDS else "String"


def field_labels() -> dict[str, str]:
    connection = current_connection()
    overrides = dict(getattr(get_plugins().sources.get(connection.source), "field_labels", {}) or {})
    return {key: overrides.get(key, label) for key, label in CONTACT_FIELDS.items()}


def saved_mapping() -> dict[str, str]:
    connection = current_connection()
    mapping = get_settings(db_session(), connection, "field_mapping").get("mapping")
    if mapping is None:
        mapping = get_plugins().mapper_for(connection.destination).default_mapping()
    return dict(mapping)


def _render(mapping: dict[str, str], errors: dict, status: int = 200):
    data_fields = lookup("data_fields")
    return (
        render_template(
            "settings/field_mapping.html",
            active_tab="field_mapping",
            connection=current_connection(),
            labels=field_labels(),
            mapping=mapping,
            data_fields=data_fields,
            existing=data_fields.names or set(),
            suggested_name=suggested_name,
            data_field_type=data_field_type,
            errors=errors,
        ),
        status,
    )


def _typed_mapping() -> dict[str, str]:
    return {key: request.form.get(f"map.{key}", "").strip() for key in CONTACT_FIELDS}


@blueprint.get("/field-mapping")
@merchant_required
def field_mapping():
    if not current_connection().is_connected:
        return redirect(url_for("settings.connect"))
    return _render(saved_mapping(), {})


def _save(typed: dict[str, str]):
    """Validate and save the typed table; answers the error page, or None once saved."""
    form = {f"map.{key}": name for key, name in typed.items()}
    try:
        loaded = field_mapping_form(CONTACT_FIELDS, lookup("data_fields").names).load(form)
    except ValidationError as error:
        return _render(typed, error.messages, 400)
    mapping = {key: name for key, name in loaded.items() if name}
    save_settings(db_session(), current_connection(), "field_mapping", {"mapping": mapping})
    db_session().commit()
    return None


@blueprint.post("/field-mapping")
@merchant_required
def field_mapping_submit():
    if not current_connection().is_connected:
        return redirect(url_for("settings.connect"))
    failed = _save(_typed_mapping())
    if failed is not None:
        return failed
    flash("Field mapping saved. It applies from the next sync; only what changed is sent again.", "success")
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
        return _render(typed, {"_schema": ["Choose a field to create a data field for."]}, 400)
    name = suggested_name(key)
    try:
        DATA_FIELD_NAME(name)
        created = destination().create_data_field(current_connection(), name, data_field_type(key))
    except (ValidationError, SyncError) as error:
        message = error.messages[0] if isinstance(error, ValidationError) else error.message
        return _render(typed, {f"map.{key}": [f"{name} could not be created: {message}"]}, 400)
    forget("data_fields")
    typed[key] = created.name  # the table is saved as typed, with the new field in its row
    failed = _save(typed)
    if failed is not None:
        return failed
    flash(f"Data field {created.name} created and mapped to {field_labels()[key]}. Mapping saved.", "success")
    return redirect(url_for("settings.field_mapping"))
