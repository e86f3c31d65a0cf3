"""The BigCommerce emulator's modes (see ``emulators.modes``): each UNCONFIRMED reading the
host's client depends on, played either way. The first value of each is the default.

- ``webhook_destinations``: ``https_443`` (reference §6.1, ``webhooks.v3.yml``: a hook's
  destination must be https on port 443; others are refused with 422) or ``any`` (loopback
  tests and the demo, whose hosts listen on http and another port).
- ``order_max_date_modified``: ``inclusive`` or ``exclusive`` — whether ``max_date_modified``
  on ``GET /v2/orders`` includes orders modified in that very second (§3.5: UNCONFIRMED).
- ``order_is_deleted``: ``honoured`` (``is_deleted=true`` lists archived orders),
  ``ignored`` (the filter is dropped: live orders are listed) or ``refused`` (400) — the
  filter left the current spec (§3.5).
- ``max_page_size``: the largest ``limit`` a listing serves (250 by the references' reading,
  §4.4: UNCONFIRMED for customers, subscribers and hooks); ``over_limit``: ``refused`` (413 for
  a larger ``limit``, as recorded for v2) or ``capped`` (served at ``max_page_size``, the
  ``per_page`` of ``meta.pagination`` telling so).
- ``guest_order_filter``: ``honoured`` or ``ignored`` — whether ``customer_id=0`` on
  ``GET /v2/orders`` lists only guest orders (§3.5: UNCONFIRMED) or is dropped.
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
