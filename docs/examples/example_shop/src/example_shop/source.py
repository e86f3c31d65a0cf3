"""``ExampleShopSource``: reads the declared streams into pages of canonical records.

A connection of this source keeps the shop's id in ``source_account`` and its API key in the
encrypted ``source_secrets`` (``{"api_key": ...}``). The API's base URL and timeout are admin
settings: ``[plugins.example_shop] base_url`` and ``timeout_seconds``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

from example_shop import records
from example_shop.client import ExampleShopClient, RetryPolicy
from example_shop.streams import STREAMS, ExampleShopStream
from host.config import plugin_config
from host.errors import ConfigurationError
from host.sources import Page, Source, Stream

if TYPE_CHECKING:
    from host.models import Connection

PLUGIN_NAME = "example_shop"  # the entry-point name: also the [plugins.<name>] config table
DEFAULT_BASE_URL = "https://api.example-shop.test/v1"
IDS_PER_CALL = 50  # keeps ``ids=`` URLs short


def since_value(stream: Stream, since: str) -> str:
    """The ``updated_since`` filter: the cursor minus the stream's overlap, to the second."""
    moment = records.parse_instant(since) - stream.cursor_overlap
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def client_for(shop: str, api_key: str | None, retry: RetryPolicy) -> ExampleShopClient:
    """A client for one shop (needs an application context, for the admin settings)."""
    if not api_key:
        raise ConfigurationError(
            "This shop has no Example Shop API key: connect the shop again.",
            area="store",
            code="example_shop_unauthorized",
        )
    settings = plugin_config(PLUGIN_NAME)
    return ExampleShopClient(
        str(settings.get("base_url") or DEFAULT_BASE_URL),
        shop,
        api_key,
        retry=retry,
        timeout=float(settings.get("timeout_seconds") or 30),
    )


class ExampleShopSource(Source):
    name = PLUGIN_NAME
    title = "Example Shop"
    field_labels = {"notes": "Customer note"}  # what Example Shop calls the "notes" field

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()  # tests swap in one whose sleep does not wait

    def streams(self) -> Sequence[ExampleShopStream]:
        return STREAMS

    def read(
        self,
        connection: Connection,
        stream: Stream,
        *,
        since: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> Iterator[Page]:
        stream = self.stream(stream.name)  # our own declaration, with its filters
        api_key = (connection.source_secrets or {}).get("api_key")
        client = client_for(connection.source_account, api_key, self.retry)
        try:
            yield from self._pages(client, stream, connection, since, ids)
        finally:
            client.close()

    def _pages(self, client, stream, connection, since, ids) -> Iterator[Page]:
        transform = self._transform(stream, connection)
        if ids is not None:  # the webhook fast lane and failed-record retries: exactly these
            wanted = [str(record_id) for record_id in ids]
            for start in range(0, len(wanted), IDS_PER_CALL):
                chunk = {stream.ids_param: ",".join(wanted[start : start + IDS_PER_CALL])}
                for body in client.pages(stream.path, stream.paginator, chunk, area=stream.name):
                    yield Page(records=[transform(raw) for raw in body.get("data") or []])
            return
        params = {stream.since_param: since_value(stream, since)} if since else {}
        for body in client.pages(stream.path, stream.paginator, params, area=stream.name):
            yield Page(records=[transform(raw) for raw in body.get("data") or []])

    def shop_details(self, shop: str, api_key: str) -> dict[str, Any]:
        """The shop's name and URL; checks the key (``ConfigurationError`` when refused)."""
        client = client_for(shop, api_key, self.retry)
        try:
            return client.get("", area="store")["data"]
        finally:
            client.close()

    @staticmethod
    def _transform(stream: Stream, connection: Connection) -> Callable[[dict], dict]:
        if stream.kind == "subscriber":
            return lambda raw: records.subscriber(raw, connection.store_url)
        return {
            "customer": records.customer,
            "order": records.order,
            "product": records.product,
        }[stream.kind]
