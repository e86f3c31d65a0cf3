"""The BigCommerce REST client: ``host.http_source``'s client, one session per store.

URLs are ``{api_base_url}/stores/{store_hash}{path}`` with ``path`` like ``/v3/customers``, so
the same code talks to api.bigcommerce.com or to the emulator. The access token travels only
in the ``X-Auth-Token`` header and is never logged. A store's session (connection reuse), pacer
and learned page sizes are shared by every client of that store in this process (``_sessions``):
its reads, webhook registration and install callbacks.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from host.http_source import Account, HttpClient, RetryPolicy

if TYPE_CHECKING:
    from plugins.bigcommerce.source import BigCommerceSource

DEFAULT_TIMEOUT = (5.0, 60.0)  # connect, read

_sessions: dict[str, Account] = {}
_sessions_lock = threading.Lock()


def store_account(source: BigCommerceSource, base_url: str) -> Account:
    """The shared session, pacer and learned page sizes of one store."""
    with _sessions_lock:
        if base_url not in _sessions:
            _sessions[base_url] = Account(source)
        return _sessions[base_url]


class BigCommerceClient(HttpClient):
    """Calls one store's API; raises ``host.errors`` classes when a call finally fails (sorted by
    ``BigCommerceSource.classify``)."""

    def __init__(
        self,
        api_base_url: str,
        store_hash: str,
        access_token: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        source: BigCommerceSource | None = None,
    ) -> None:
        if source is None:  # a client of its own (webhooks, install callbacks)
            from plugins.bigcommerce.source import BigCommerceSource

            source = BigCommerceSource(retry)
        super().__init__(source, f"{api_base_url.rstrip('/')}/stores/{store_hash}",
                         {"X-Auth-Token": access_token}, timeout)
        self.store_hash = store_hash
