"""``/v2/account-info``, ``/v2/server-time`` and contact data fields (reference §1.3, §6)."""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request

from .errors import v2_error
from .model import DEFAULT_DATA_FIELDS, DataField
from .web import account, json_body, state

blueprint = Blueprint("ec_account", __name__)

FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
FIELD_TYPES = ("String", "Numeric", "Date", "Boolean")
RESERVED_FIELD_NAMES = {
    "account",
    "campaign",
    "campaignid",
    "contact",
    "contact_api_id",
    "contactid",
    "email",
    "hcontactid",
    "hemail",
    "hemail256",
    "id",
    "messagecontent",
    "mobilenumberid",
    "notes",
    "unsubscribed",
    "uniquecontactid",
}
HOURLY_CALL_ALLOWANCE = 2000
DEFAULT_FIELD_NAMES = {name for name, _ in DEFAULT_DATA_FIELDS}


def api_endpoint(region: str) -> str:
    options = state().options
    base = (options.public_base_url or request.host_url).rstrip("/")
    return f"{base}/{region}" + ("/" if options.endpoint_trailing_slash else "")


@blueprint.get("/v2/account-info")
def account_info():
    me = account()
    calls = len(me.api_calls)
    properties = [
        ("Name", "String", f"Emulated account {me.id}"),
        ("MainEmail", "String", f"owner-{me.id}@example.com"),
        ("MainMobilePhoneNumber", "String", ""),
        ("AvailableEmailSendsCredits", "Int", "10000"),
        ("AvailableSmsSendsCredits", "Int", "0"),
        ("ListManagedUsers", "String", me.api_user),
        ("APILocale", "String", "en-GB"),
        ("ApiCallsInLastHour", "Int", str(calls)),
        ("ApiCallsRemaining", "Int", str(max(HOURLY_CALL_ALLOWANCE - calls, 0))),
        ("ApiEndpoint", "String", api_endpoint(me.region)),
        ("CurrencyCode", "String", "GBP"),
        ("TimeZoneIana", "String", "Europe/London"),
    ]
    return jsonify(
        {
            "id": me.id,
            "properties": [
                {"name": name, "type": kind, "value": value} for name, kind, value in properties
            ],
        }
    )


@blueprint.get("/v2/server-time")
def server_time():
    return jsonify(state().clock.iso())


def _field_json(field: DataField) -> dict:
    return {
        "name": field.name,
        "type": field.type,
        "visibility": field.visibility,
        "defaultValue": field.default_value,
    }


@blueprint.get("/v2/data-fields")
def list_data_fields():
    with state().lock:
        return jsonify([_field_json(f) for f in account().data_fields.values()])


@blueprint.post("/v2/data-fields")
def create_data_field():
    """201 with the field (ReadMe example). Type is required (reference §6, [RD-DF])."""
    body = {str(k).lower(): v for k, v in (json_body() or {}).items()}
    name = body.get("name")
    kind = next((t for t in FIELD_TYPES if t.lower() == str(body.get("type")).lower()), None)
    visibility = str(body.get("visibility") or "Private").capitalize()
    if (
        not isinstance(name, str)
        or not FIELD_NAME.match(name)
        or name.lower() in RESERVED_FIELD_NAMES
        or kind is None
        or visibility not in ("Private", "Public")
    ):
        raise v2_error(400, "The data field is not valid. ERROR_DATAFIELD_INVALID")
    with state().lock:
        me = account()
        if me.data_field(name) is not None:
            raise v2_error(400, "Field already exists. ERROR_NON_UNIQUE_DATAFIELD")
        field = me.add_data_field(DataField(name, kind, visibility, body.get("defaultvalue")))
        return jsonify(_field_json(field)), 201


@blueprint.delete("/v2/data-fields/<dataFieldName>")
def delete_data_field(dataFieldName: str):
    with state().lock:
        me = account()
        field = me.data_field(dataFieldName)
        if field is None:
            raise v2_error(404, "Error: ERROR_DATAFIELD_NOTFOUND")
        if field.name in DEFAULT_FIELD_NAMES:
            raise v2_error(400, "Default data fields cannot be deleted. ERROR_DATAFIELD_INVALID")
        del me.data_fields[field.name.lower()]
        for contact in me.contacts.values():
            contact.data_fields.pop(field.name, None)
        return jsonify({"result": True, "dependencies": None})
