"""The account's address books, programs and data fields, read once per request for the dropdowns.

A lookup that fails (bad credentials, the account unreachable) does not break the page: it
answers no options and a message the page shows in place of the dropdown's choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import g

from host.destinations import Destination, Option
from host.errors import SyncError
from host.plugins import get_plugins
from host.web.session import current_connection


@dataclass
class Lookup:
    options: list[Option] = field(default_factory=list)
    error: str | None = None

    @property
    def ids(self) -> set[str] | None:
        """The ids to validate against, or None when the list could not be read."""
        return None if self.error else {option.id for option in self.options}

    @property
    def names(self) -> set[str] | None:
        return None if self.error else {option.name for option in self.options}

    def by_id(self, option_id: str | None) -> Option | None:
        return next((option for option in self.options if option.id == option_id), None)


def destination() -> Destination:
    return get_plugins().destination(current_connection().destination)


def lookup(kind: str) -> Lookup:
    """``kind`` is ``address_books``, ``programs`` or ``data_fields``."""
    cache = g.setdefault("account_lookups", {})
    if kind not in cache:
        try:
            options = list(getattr(destination(), kind)(current_connection()))
            cache[kind] = Lookup(sorted(options, key=lambda option: option.name.lower()))
        except SyncError as error:
            cache[kind] = Lookup(error=error.message)
    return cache[kind]


def forget(kind: str) -> None:
    """Drop a cached list after changing it (e.g. a data field was created)."""
    g.setdefault("account_lookups", {}).pop(kind, None)
