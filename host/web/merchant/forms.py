"""Marshmallow schemas for the settings forms: what the merchant typed, checked against the account.

Errors come back as ``{field: [message]}`` and are shown next to the field they concern;
``_schema`` errors are shown at the top of the form.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from host.destinations import CredentialField, Option, noun_forms
from host.web.merchant import indefinite

BOOK_FIELDS = ("customers_book_id", "subscribers_book_id")
PROGRAM_FIELDS = ("new_customer_program_id", "new_subscriber_program_id", "first_order_program_id")


class _Form(Schema):
    class Meta:
        unknown = EXCLUDE  # the CSRF token and the submit button's name

    @pre_load
    def strip_text(self, data: Mapping[str, Any], **_kwargs) -> dict[str, Any]:
        return {key: value.strip() if isinstance(value, str) else value for key, value in data.items()}


def _optional_id() -> fields.String:
    """A dropdown whose empty choice means "none"."""
    return fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=255, error="Choose one of the offered options."),
    )


def _lowered(label: str) -> str:
    """"API username" stays, "Username" becomes "username" (for "Enter the ...")."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def connect_form(destinations: Collection[str], credential_fields: Sequence[CredentialField]) -> Schema:
    """A schema reading the connect form: ``destination`` (one of ``destinations``) and one
    required field per ``CredentialField`` of that destination, each within its length."""
    declared: dict[str, Any] = {
        "destination": fields.String(required=True, error_messages={"required": "Choose the account type."}),
    }
    for field in credential_fields:
        message = f"Enter the {_lowered(field.label)}."
        declared[field.name] = fields.String(
            required=True,
            validate=validate.Length(min=1, max=field.longest, error=message),
            error_messages={"required": message},
        )

    def known_destination(self, data: dict[str, Any], **_kwargs) -> None:
        if data.get("destination") not in destinations:
            raise ValidationError("Choose one of the offered accounts.", "destination")

    declared["known_destination"] = validates_schema(known_destination)
    return type("ConnectForm", (_Form,), declared)()


class StoreSettingsForm(_Form):
    """The Contacts and Automation sections of the Store tab, saved together."""

    double_opt_in = fields.String(
        required=True,
        validate=validate.OneOf(["yes", "no"], error="Choose Yes or No."),
        error_messages={"required": "Choose Yes or No."},
    )
    customers_book_id = _optional_id()
    subscribers_book_id = _optional_id()
    consent_text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000, error="Enter the wording shoppers agree to (up to 1000 characters)."),
        error_messages={"required": "Enter the wording shoppers agree to."},
    )
    write_back_unsubscribes = fields.String(
        load_default="yes",  # a form from before this setting existed keeps it on
        validate=validate.OneOf(["yes", "no"], error="Choose Yes or No."),
    )
    # What becomes of people deleted in the store (``host.sync.erasure``); "erase" only where the
    # destination can (``can_erase``), and the page offers it only then.
    deleted_contacts = fields.String(
        load_default="remove",
        validate=validate.OneOf(["remove", "erase"], error="Choose what happens to people deleted in your store."),
    )
    new_customer_program_id = _optional_id()
    new_subscriber_program_id = _optional_id()
    first_order_program_id = _optional_id()

    def __init__(
        self,
        book_ids: Collection[str] | None,
        program_ids: Collection[str] | None,
        *,
        account: str,
        nouns: Mapping[str, str] | None = None,
        can_erase: bool = False,
        **kwargs,
    ):
        """``None`` for a list that could not be read from the account: nothing can be checked then.
        ``account`` is the destination's title, ``nouns`` what it calls its things
        (``host.destinations.noun_forms``; the defaults when not given)."""
        super().__init__(**kwargs)
        self.book_ids = book_ids
        self.program_ids = program_ids
        self.account = account
        self.nouns = dict(nouns) if nouns is not None else noun_forms({})
        self.can_erase = can_erase

    def _missing(self, noun: str) -> str:
        return f"This {self.nouns[noun]} does not exist in your {self.account} {self.nouns['account']}."

    def _unreadable(self, nouns: str) -> str:
        return (f"The {self.nouns[nouns]} could not be read from your {self.nouns['account']}, "
                "so this cannot be saved now.")

    @pre_load
    def empty_means_none(self, data: Mapping[str, Any], **_kwargs) -> dict[str, Any]:
        return {key: (None if value == "" and key in (*BOOK_FIELDS, *PROGRAM_FIELDS) else value)
                for key, value in data.items()}

    @validates_schema
    def books_exist_and_differ(self, data: dict[str, Any], **_kwargs) -> None:
        errors: dict[str, list[str]] = {}
        for name in BOOK_FIELDS:
            chosen = data.get(name)
            if chosen is None:
                continue
            if self.book_ids is None:
                errors[name] = [self._unreadable("address_books")]
            elif chosen not in self.book_ids:
                errors[name] = [self._missing("address_book")]
        customers, subscribers = data.get("customers_book_id"), data.get("subscribers_book_id")
        if customers is not None and customers == subscribers and not errors:
            errors["subscribers_book_id"] = [
                f"Customers and subscribers must go to different {self.nouns['address_books']}: "
                f"choose another {self.nouns['address_book_short']}."
            ]
        for name in PROGRAM_FIELDS:
            chosen = data.get(name)
            if chosen is None:
                continue
            if self.program_ids is None:
                errors[name] = [self._unreadable("programs")]
            elif chosen not in self.program_ids:
                errors[name] = [self._missing("program")]
        if data.get("deleted_contacts") == "erase" and not self.can_erase:
            errors["deleted_contacts"] = [f"Your {self.account} {self.nouns['account']} cannot erase {self.nouns['contacts']} here."]
        if errors:
            raise ValidationError(errors)


def _data_field_validator(
    label: str,
    kind: str,
    options: Mapping[str, Option] | None,
    accepted: Collection[str] | None,
    account: str,
    nouns: Mapping[str, str],
):
    """Checks one row's choice: the field exists, may be written, and its type fits."""

    def check(value: str) -> None:
        if not value:
            return
        if options is None:
            raise ValidationError(f"Your {nouns['account']}'s {nouns['data_fields']} could not be read, "
                                  "so this cannot be saved now.")
        option = options.get(value)
        if option is None:
            raise ValidationError(f"{value} is not {indefinite(nouns['data_field'])} of your {account} "
                                  f"{nouns['account']}.")
        if not option.writable:
            raise ValidationError(
                f"{value} is a system field that {account} fills in itself, so the connector must not "
                "write it: choose another field."
            )
        if accepted and option.type and option.type not in accepted:
            raise ValidationError(
                f"{label} is {kind} and cannot go into {value}, a {option.type} field: choose a "
                f"{' or '.join(accepted)} field."
            )

    return check


def _joined(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def field_mapping_form(
    labels: Mapping[str, str],
    data_fields: Collection[Option] | None,
    *,
    kinds: Mapping[str, str],
    accepted_types: Mapping[str, Collection[str] | None],
    account: str,
    nouns: Mapping[str, str] | None = None,
) -> Schema:
    """A schema reading ``map.<field key>`` dropdowns: a data field name, or empty for unmapped.

    ``labels`` names the store fields (key → label, in the page's order); ``data_fields`` are the
    account's fields (None when they could not be read); ``kinds`` says what each store field
    holds ("text", "a date") and ``accepted_types`` which data field types take it (the
    destination mapper's rule; None: any). Refused: a field missing from the account, a system
    field, a type that does not fit, and one data field chosen for two store fields.
    ``load`` answers ``{field key: data field name or ""}``; drop the empty ones for the mapping.
    ``nouns`` are what the destination calls its things (``host.destinations.noun_forms``).
    """
    nouns = dict(nouns) if nouns is not None else noun_forms({})
    options = None if data_fields is None else {option.name: option for option in data_fields}
    declared: dict[str, Any] = {
        key: fields.String(
            data_key=f"map.{key}",
            load_default="",
            validate=_data_field_validator(label, kinds.get(key, "text"), options, accepted_types.get(key), account,
                                           nouns),
        )
        for key, label in labels.items()
    }

    def one_store_field_per_data_field(self, data: dict[str, Any], **_kwargs) -> None:
        chosen: dict[str, list[str]] = {}
        for key in labels:
            if data.get(key):
                chosen.setdefault(data[key], []).append(key)
        errors = {}
        for name, keys in chosen.items():
            if len(keys) > 1:
                both = "both" if len(keys) == 2 else "all"
                message = f"{_joined([labels[k] for k in keys])} are {both} mapped to {name}: choose one."
                errors.update({f"map.{key}": [message] for key in keys})
        if errors:
            raise ValidationError(errors)

    declared["one_store_field_per_data_field"] = validates_schema(skip_on_field_errors=False)(
        one_store_field_per_data_field
    )
    return type("FieldMappingForm", (_Form,), declared)()

