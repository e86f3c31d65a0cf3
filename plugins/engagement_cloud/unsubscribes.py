"""Unsubscribes and suppressions since a moment (reference §3, §4.2), for the host's write-back.

Three v2 listings of ``ApiContactSuppression``, each paged with ``select`` (1000) and ``skip``:
the subscribers book's ``unsubscribed-since`` (a book-level unsubscribe), and the account's
``unsubscribed-since`` and ``suppressed-since`` (an unsubscribe from everything, a hard bounce,
a complaint). ``{date}`` is sent as an ISO 8601 UTC date-time to the second (the spec types it
``date`` and describes a date-time: UNCONFIRMED which the service honours; a date alone would
only re-read more, which the host's overlap handling absorbs). ``dateRemoved`` is read in either
documented form (``2025-07-23 11:01:55.433000+00:00``, ``2020-01-01T09:40:18.527Z``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from host.destinations import Unsubscribe
from host.errors import ConfigurationError, TransientError

from .client import ApiError, EngagementCloudClient

log = logging.getLogger(__name__)
PAGE = 1000


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pages(client: EngagementCloudClient, path: str) -> list[dict]:
    found: list[dict] = []
    skip = 0
    while True:
        page = client.get(path, select=PAGE, skip=skip) or []
        found += [item for item in page if isinstance(item, dict)]
        if len(page) < PAGE:
            return found
        skip += PAGE


def unsubscribes_since(
    client: EngagementCloudClient, since: datetime, book_id: str | None
) -> list[Unsubscribe]:
    date = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    paths = [f"/v2/contacts/unsubscribed-since/{date}", f"/v2/contacts/suppressed-since/{date}"]
    if book_id:
        paths.insert(0, f"/v2/address-books/{int(book_id)}/contacts/unsubscribed-since/{date}")
    found: list[Unsubscribe] = []
    for path in paths:
        try:
            items = _pages(client, path)
        except ApiError as error:
            if error.code == "ERROR_ADDRESSBOOK_NOT_FOUND":
                raise ConfigurationError(
                    "The subscribers address book no longer exists in Engagement Cloud: choose another on "
                    "the Store tab.", area="contacts", code="address_book_missing") from None
            raise TransientError(
                f"Engagement Cloud could not list unsubscribes ({error.status} {error.code}); "
                "they are read again at the next sync.") from None
        for item in items:
            email = ((item.get("suppressedContact") or {}).get("email") or "").strip()
            moment = _moment(item.get("dateRemoved") or "")
            if not email or moment is None:
                log.warning("Engagement Cloud: an unsubscribe without an email or date was skipped")
                continue
            found.append(Unsubscribe(email, moment, str(item.get("reason") or "Unsubscribed")))
    return found
