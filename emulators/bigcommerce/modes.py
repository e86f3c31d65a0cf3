"""The BigCommerce emulator's modes (see ``emulators.modes``): each UNCONFIRMED reading the
host's client depends on, played either way. The first value of each is the default; the
client (``plugins/bigcommerce``) is correct in every one (``make test-modes``).

``webhook_destinations``: ``https_443`` | ``any``
    Known: a hook's destination must be https and served on port 443, "custom ports aren't
    currently supported" (reference §6.1; ``webhooks.v3.yml``: "URL must be active, return a
    200 response, and be served on port 443"). Assumed: the API refuses another destination
    when the hook is created or updated (rather than accepting it and never delivering), with
    422 and the v3 error body naming ``destination`` (the spec's generic 422; the text is the
    emulator's own); ``https://host:443/`` counts as ``https://host/``; ``http://host:443`` is
    refused. ``any`` accepts any http(s) URL with a host: loopback tests and the demo. The host
    checks its own ``public_url`` (``host.public_url``) and registers nothing while it breaks
    the rule.

``order_max_date_modified``: ``inclusive`` | ``exclusive``
    Known: dates have whole-second precision; whether ``max_date_modified`` on
    ``GET /v2/orders`` includes its own second is UNCONFIRMED (§3.5). Assumed:
    ``min_date_modified`` is inclusive (the reference treats it as ``>=``); ties are served in
    id order. Client: a page wholly inside one second T is followed by a window from T to T+1 s,
    which holds every order of T under both readings.

``order_is_deleted``: ``honoured`` | ``ignored`` | ``refused``
    Known: ``is_deleted`` on an order means archived; the ``is_deleted`` filter was in the 2021
    and legacy v2 specs and is gone from the current one; whether archived or Incomplete orders
    appear in the default list is UNCONFIRMED. Assumed: a read by id returns an archived order,
    flagged; archiving changes ``date_modified``; order ids are roughly sequential; a refusal is
    a 400. Client: the archived pass asks ``is_deleted=true`` newest first; live orders on its
    first page (ignored) or a 4xx (refused) switch it, at most hourly, to a search by id of the
    ids missing from the live and Incomplete listings.

``max_page_size`` (250) and ``over_limit``: ``refused`` | ``capped``
    Known: v2 answers 413 with ``details.max_limit: 250`` for a larger ``limit`` (a 2017 record,
    §4.4); 250 for v2 orders and products is documented. UNCONFIRMED: the maximum for
    customers, addresses, subscribers and hooks, and whether v3 refuses or silently caps.
    Assumed: a capped v3 page says so in ``meta.pagination.per_page``; a capped v2 page just
    has fewer rows; a refusal may not name the maximum. Client (``plugins/bigcommerce/limits``):
    a refusal is retried with the maximum it names, or half the limit, and remembered per
    endpoint; a short v2 page ends a listing only where longer pages were served before.

``guest_order_filter``: ``honoured`` | ``ignored``
    Known: guest orders have ``customer_id`` 0; whether ``customer_id=0`` filters to them is
    UNCONFIRMED. The client does not use the filter (guests come from the orders it reads);
    the mode keeps it that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ENV_VAR = "BIGCOMMERCE_EMULATOR_MODES"


@dataclass(frozen=True)
class Modes:
    webhook_destinations: Literal["https_443", "any"] = "https_443"
    order_max_date_modified: Literal["inclusive", "exclusive"] = "inclusive"
    order_is_deleted: Literal["honoured", "ignored", "refused"] = "honoured"
    max_page_size: int = 250
    over_limit: Literal["refused", "capped"] = "refused"
    guest_order_filter: Literal["honoured", "ignored"] = "honoured"
