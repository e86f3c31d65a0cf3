"""Keyset walks over BigCommerce listings sorted by change date (bigcommerce-api.md §4 and §7).

``host.http_source.KeysetPaginator`` does the walk (why offset pages lose records under a long
read, and how a page tied on one second is paged); this says how BigCommerce writes its dates:
ISO 8601 in v3, RFC 2822 in v2, whole seconds. Whether a ``max`` filter keeps its own second is
UNCONFIRMED for v2 orders (``max_date_modified``, §3.5; the emulator plays both, mode
``order_max_date_modified``): the tied second T is paged as ``min = T, max = T + 1 s``, which
holds every record of T either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import requests

from host import http_source
from plugins.bigcommerce.pagination import as_page
from plugins.bigcommerce.transform import iso_utc


def format_moment(moment: datetime, style: str) -> str:
    """A change-date filter value: ``iso`` (v3, ``...Z``) or ``rfc2822`` (v2)."""
    moment = moment.astimezone(UTC).replace(microsecond=0)
    if style == "rfc2822":
        return format_datetime(moment).replace("-0000", "+0000")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def moment_of(value: str | None) -> datetime | None:
    """A v3 (ISO 8601) or v2 (RFC 2822) date as an aware datetime; None when empty."""
    text = iso_utc(value)
    return datetime.fromisoformat(text) if text else None


class KeysetPaginator(http_source.KeysetPaginator):
    """The host's keyset walk with filters written in ``date_style`` (``iso`` or ``rfc2822``)."""

    def __init__(self, offsets: http_source.HttpPaginator, since_param: str, until_param: str,
                 date_style: str = "iso") -> None:
        super().__init__(offsets, since_param, until_param)
        self.date_style = date_style

    def moment(self, value: Any) -> datetime | None:
        return moment_of(value)

    def format_moment(self, moment: datetime) -> str:
        return format_moment(moment, self.date_style)

    def walk(self) -> KeysetPaginator:
        return self.start()

    def records(self, response: requests.Response) -> list[dict[str, Any]]:
        """The rows of a bare response not given before."""
        return self.new_rows(as_page(response, {}))

    def next_page(self, previous: Mapping[str, Any], response: Any) -> Mapping[str, Any] | None:
        return super().next_page(previous, as_page(response, previous))
