"""``ExampleShopSource``: the declared streams, read by the host's ``HttpSource``.

A connection of this source keeps the shop's id in ``source_account`` and its API key in the
encrypted ``source_secrets`` (``{"api_key": ...}``). The API's base URL and timeout are admin
settings: ``[plugins.example_shop] base_url`` and ``timeout_seconds``. ``HttpSource`` pages,
filters, retries (429 as ``Retry-After`` says), and sorts failures: 401/403 are a
``ConfigurationError`` with the messages below, what outlives its retries a ``TransientError``.
The API key travels only in a header and is never logged or shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from example_shop import records
from example_shop.streams import STREAMS
from host.config import plugin_config
from host.errors import ConfigurationError
from host.models import Connection
from host.sources import HttpSource, HttpStream

PLUGIN_NAME = "example_shop"  # the entry-point name: also the [plugins.<name>] config table
DEFAULT_BASE_URL = "https://api.example-shop.test/v1"
TRANSFORMS = {"customer": records.customer, "order": records.order, "product": records.product}


class ExampleShopSource(HttpSource):
    name = PLUGIN_NAME
    title = "Example Shop"
    field_labels = {"notes": "Customer note"}  # what Example Shop calls the "notes" field

    def streams(self) -> Sequence[HttpStream]:
        return STREAMS

    def base_url(self, connection: Connection) -> str:
        base = str(plugin_config(PLUGIN_NAME).get("base_url") or DEFAULT_BASE_URL)
        return f"{base.rstrip('/')}/shops/{connection.source_account}"

    def auth(self, connection: Connection) -> dict[str, str]:
        api_key = (connection.source_secrets or {}).get("api_key")
        if not api_key:
            raise ConfigurationError(
                "This shop has no Example Shop API key: connect the shop again.",
                area="store",
                code="example_shop_unauthorized",
            )
        return {"X-Api-Key": api_key}

    def timeout(self, connection: Connection) -> float:
        return float(plugin_config(PLUGIN_NAME).get("timeout_seconds") or 30)

    def transform(self, stream: HttpStream, raw: Any, connection: Connection) -> dict[str, Any]:
        if stream.kind == "subscriber":
            return records.subscriber(raw, connection.store_url)
        return TRANSFORMS[stream.kind](raw)

    def unauthorized_message(self, area: str | None) -> str:
        return (
            "Example Shop no longer accepts this shop's API key. Create a new key in the "
            "Example Shop admin and connect the shop again."
        )

    def forbidden_message(self, area: str | None) -> str:
        return (
            f"This shop's API key may not read {area}. Give the key read access to {area} in "
            "the Example Shop admin."
        )

    def shop_details(self, shop: str, api_key: str) -> dict[str, Any]:
        """The shop's name and URL; checks the key (``ConfigurationError`` when refused)."""
        connection = Connection(source=PLUGIN_NAME, source_account=shop, source_secrets={"api_key": api_key})
        with self.open(connection) as client:
            return client.get_json("", area="store")["data"]
