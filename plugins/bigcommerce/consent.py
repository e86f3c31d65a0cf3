"""The IP address behind a subscriber's consent, from what the store itself recorded.

BigCommerce keeps no IP or browser on the subscriber record (bigcommerce-api.md §3.4), but it
does keep two real facts about the person (§3.2, §3.5):

1. A checkout opt-in carries the ``order_id`` of the order it was given in, and every v2 order
   has the shopper's ``ip_address`` (or ``ip_address_v6``): the IP of the very moment of consent.
2. A store account has its ``registration_ip_address`` (blank when the account was created
   through the API): the IP the person registered from.

So a subscriber's consent IP is the order's IP when it opted in at checkout, else the
registration IP of the store account with its email, else none (a newsletter signup from a
stranger, or an account created by the API): the mapper then says so in its own way (see the
merchant guide). UNCONFIRMED: whether the registration IP is also the IP of a newsletter opt-in
made later from the account; the store holds nothing closer, and the record says where it came
from only through the date. BigCommerce records no user agent at all, so none is ever given.

Lookups cost a few calls per page of subscribers: orders in id windows (``min_id``/``max_id``,
one call per window of ``ORDER_WINDOW`` ids), customers by ``email:in`` (``EMAILS_PER_CALL`` a
call). Subscribers are listed by id, and their checkout orders need not follow that order (the
emulator shuffles them), so a listing read page by page first gathers the order ids of its
checkout opt-ins (``source=order``, ids only) and looks their IPs up in windows over the whole
listing (``order_ips``; kept by order id, a few MB for 200,000 subscribers); pages then look up
only what that missed. A value that is not an IP address (the reference's own example has ``00.000.000.000``)
is ignored. A lookup the store refuses (a 4xx) leaves those IPs unknown rather than failing
the subscribers: consent is still recorded, only without its IP.
"""

from __future__ import annotations

import ipaddress
import logging
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from host.errors import RecordError
from plugins.bigcommerce.pagination import IdWindowPaginator, V3PagePaginator

if TYPE_CHECKING:
    from plugins.bigcommerce.client import BigCommerceClient

log = logging.getLogger(__name__)
ORDER_WINDOW = 250  # ids per orders call: the v2 page maximum, so one page holds the window
EMAILS_PER_CALL = 50  # keeps ``email:in`` URLs short


def valid_ip(value: Any) -> str | None:
    """``value`` as a normalised IPv4 or IPv6 address, or None."""
    try:
        return str(ipaddress.ip_address(str(value or "").strip()))
    except ValueError:
        return None


def order_ip(order: dict[str, Any]) -> str | None:
    return valid_ip(order.get("ip_address")) or valid_ip(order.get("ip_address_v6"))


def _windows(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted ids grouped into (first, last) ranges no wider than ``ORDER_WINDOW``."""
    windows: list[tuple[int, int]] = []
    for order_id in sorted(set(ids)):
        if windows and order_id - windows[-1][0] < ORDER_WINDOW:
            windows[-1] = (windows[-1][0], order_id)
        else:
            windows.append((order_id, order_id))
    return windows


def order_ips(client: BigCommerceClient, order_ids: Iterable[int]) -> dict[int, str]:
    """The shopper's IP of each order (an archived one too), by order id.

    A window's orders are listed from the default view, then from the archived ones
    (``is_deleted=true``); a page holds the window unless the store serves shorter pages, and
    then the window is paged. Where the store ignores or refuses the archived filter
    (UNCONFIRMED, §3.5), the orders still missing are read by id."""
    wanted = set(order_ids)
    found: dict[int, str] = {}
    for first, last in _windows(wanted):
        try:
            _window_ips(client, first, last, {}, wanted, found)
        except RecordError as error:
            log.info("BigCommerce refused an order IP lookup (%s): those consents get no IP", error.message)
            continue
        if not _missing(wanted, found, first, last):
            continue
        try:  # archived orders are left out by default
            usable = _window_ips(client, first, last, {"is_deleted": "true"}, wanted, found)
        except RecordError as error:
            log.info("BigCommerce refused the archived-orders filter (%s): reading by id", error.message)
            usable = False
        if not usable:  # the archived filter was ignored or refused: those left, by id
            for order_id in _missing(wanted, found, first, last):
                try:
                    order = client.get_json(f"/v2/orders/{order_id}", area="subscribers", missing_ok=True)
                except RecordError as error:
                    log.info("BigCommerce refused an order IP lookup (%s): no IP", error.message)
                    continue
                ip = order_ip(order) if isinstance(order, dict) else None
                if ip:
                    found[order_id] = ip
    return found


def _missing(wanted: set[int], found: dict[int, str], first: int, last: int) -> list[int]:
    return [i for i in sorted(wanted) if first <= i <= last and i not in found]


def _window_ips(client: BigCommerceClient, first: int, last: int, extra: dict, wanted: set[int],
                found: dict[int, str]) -> bool:
    """Reads one id window's orders into ``found``; False when an ``is_deleted`` filter was
    answered with live orders (the store ignores it)."""
    params = {"min_id": first, "max_id": last, **extra}
    for page in client.pages("/v2/orders", IdWindowPaginator(last - first + 1, ORDER_WINDOW), params, area="subscribers"):
        orders = page.records
        if extra and any(not order.get("is_deleted") for order in orders):
            return False
        for order in orders:
            ip = order_ip(order)
            if ip and order.get("id") is not None and int(order["id"]) in wanted:
                found[int(order["id"])] = ip
    return True


def registration_ips(client: BigCommerceClient, emails: Iterable[str]) -> dict[str, str]:
    """The registration IP of the store account of each email (lower-cased), where it has one."""
    wanted = sorted({email.strip().lower() for email in emails if email and email.strip()})
    found: dict[str, str] = {}
    for start in range(0, len(wanted), EMAILS_PER_CALL):
        chunk = wanted[start:start + EMAILS_PER_CALL]
        try:  # one page holds the chunk, unless the store serves fewer a page: then it is paged
            for page in client.pages("/v3/customers", V3PagePaginator(250), {"email:in": ",".join(chunk)},
                                     area="subscribers"):
                for customer in page.records:
                    ip = valid_ip(customer.get("registration_ip_address"))
                    email = str(customer.get("email") or "").strip().lower()
                    if ip and email in chunk:
                        found[email] = ip
        except RecordError as error:
            log.info("BigCommerce refused a registration IP lookup (%s): those consents get no IP", error.message)
            continue
    return found


def consent_ips(
    client: BigCommerceClient,
    subscribers: list[dict[str, Any]],
    known: KnownOrderIps | None = None,
) -> dict[str, str]:
    """Subscriber id → the IP of its consent, for the opted-in ``subscribers`` (raw v3 records).
    ``known``: order IPs looked up already (an order looked up without an IP is not asked again)."""
    by_order = {int(raw["order_id"]): str(raw["id"]) for raw in subscribers
                if str(raw.get("order_id") or "").isdigit() and int(raw["order_id"]) > 0}
    ips: dict[str, str] = {}
    if by_order:
        found: dict[int, str] = {}
        unknown = [order_id for order_id in by_order if known is None or order_id not in known]
        if unknown:
            found.update(order_ips(client, unknown))
        for order_id, subscriber_id in by_order.items():
            ip = found.get(order_id) or (known.ips.get(order_id) if known is not None else None)
            if ip:
                ips[subscriber_id] = ip
    rest = {str(raw.get("email") or "").strip().lower(): str(raw["id"]) for raw in subscribers
            if str(raw["id"]) not in ips and raw.get("email")}
    if rest:
        for email, ip in registration_ips(client, rest).items():
            ips[rest[email]] = ip
    return ips


class KnownOrderIps:
    """Order IPs looked up for a whole listing: ``ips`` by order id, and which ids were asked
    (sorted, 8 bytes each), so an order without an IP is not asked for again."""

    def __init__(self, asked: Iterable[int], ips: dict[int, str]) -> None:
        self.asked = array("q", sorted(set(asked)))
        self.ips = ips

    def __contains__(self, order_id: int) -> bool:
        at = bisect_left(self.asked, order_id)
        return at < len(self.asked) and self.asked[at] == order_id


def checkout_order_ips(client: BigCommerceClient, order_ids: Iterable[int]) -> KnownOrderIps:
    """The IPs of these orders (the checkout opt-ins of a whole listing), looked up in windows."""
    asked = array("q", sorted({int(order_id) for order_id in order_ids if int(order_id) > 0}))
    return KnownOrderIps(asked, order_ips(client, asked) if asked else {})
