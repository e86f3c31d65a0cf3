"""A connection's merchant settings, one namespace each, with their defaults.

Namespaces and keys (what the pages save and the sync reads):
- ``contacts``: double_opt_in (bool), customers_book_id, subscribers_book_id (str or None),
  consent_text (the store's signup wording, stored with each consent record),
  write_back_unsubscribes (bool: unsubscribes at the destination are written back to the store),
  deleted_contacts ("remove" or "erase": what becomes of people deleted in the store,
  ``host.sync.erasure``).
- ``automation``: new_customer_program_id, new_subscriber_program_id, first_order_program_id.
- ``field_mapping``: mapping ({contact field key: destination data field name}); None until
  first saved, so the destination mapper's defaults apply. ``unmapped``: the data fields unmapped
  since the contacts were last checked, sent empty once to the contacts that had a value
  (``host.sync.contacts``).
Plugins keep theirs under their own name (e.g. ``smtp``), with secrets in ``secrets``.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from host.models import Connection, ConnectionSetting

DEFAULT_CONSENT_TEXT = "Yes, I would like to receive news, offers and updates by email."

DEFAULTS: dict[str, dict[str, Any]] = {
    "contacts": {
        "double_opt_in": False,
        "customers_book_id": None,
        "subscribers_book_id": None,
        "consent_text": DEFAULT_CONSENT_TEXT,
        "write_back_unsubscribes": True,
        "deleted_contacts": "remove",
    },
    "automation": {
        "new_customer_program_id": None,
        "new_subscriber_program_id": None,
        "first_order_program_id": None,
    },
    "field_mapping": {"mapping": None, "unmapped": []},
}


def _row(session: Session, connection: Connection, namespace: str) -> ConnectionSetting | None:
    return session.scalar(
        select(ConnectionSetting).where(
            ConnectionSetting.connection_id == connection.id, ConnectionSetting.namespace == namespace
        )
    )


def get_settings(session: Session, connection: Connection, namespace: str) -> dict[str, Any]:
    """The namespace's values over its defaults (a copy: change it through ``save_settings``)."""
    values = copy.deepcopy(DEFAULTS.get(namespace, {}))
    row = _row(session, connection, namespace)
    if row is not None:
        values.update(copy.deepcopy(row.values))
    return values


def save_settings(
    session: Session,
    connection: Connection,
    namespace: str,
    values: dict[str, Any],
    *,
    secrets: dict[str, Any] | None = None,
) -> None:
    """Merge ``values`` (and, when given, ``secrets``) into the namespace; the caller commits."""
    row = _row(session, connection, namespace)
    if row is None:
        row = ConnectionSetting(connection_id=connection.id, namespace=namespace, values={})
        session.add(row)
    row.values = {**row.values, **values}
    if secrets is not None:
        row.secrets = {**(row.secrets or {}), **secrets}


def get_secrets(session: Session, connection: Connection, namespace: str) -> dict[str, Any]:
    row = _row(session, connection, namespace)
    return dict(row.secrets or {}) if row is not None else {}
