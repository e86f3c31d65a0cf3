"""Lifetime order fields: per email (guests too), from the orders the host reads.

Each order read leaves one ``OrderFact`` row (keyed by connection and order id): its email,
whether it counts (neither Incomplete nor archived), what was paid and what was refunded of
it (in the store's own currency), its number and date. An email's fields (``LIFETIME_FIELDS``:
number of orders, total spent, average order value, first and last order date, last order
number) are derived from its counting rows whenever one of them changes, so re-reading an
order (a cursor's overlap), a status change, a refund or an order moving to another email
is counted exactly once. A profile whose fields changed is marked dirty: the contacts phase
re-sends it, and only if its mapped payload changed (the ledger's hash).

A connection whose orders were never read whole with facts kept (installed before this
existed) reads its order streams whole once (``facts_missing``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from host.models import ContactProfile, OrderFact
from host.sync.cursors import cursor_row, parse_time
from host.sync.profiles import email_of

CHUNK = 500
CENTS = Decimal("0.01")
FACTS_READ = "~order_facts:"  # reserved cursor name prefix: the stream was read whole with facts
ORDER_KIND = "order"


def facts_missing(session: Session, connection_id: int, stream) -> bool:
    """Whether this order stream must be read whole so every order leaves its facts."""
    if stream.kind != ORDER_KIND:
        return False
    return cursor_row(session, connection_id, FACTS_READ + stream.name).value is None


def mark_facts_read(session: Session, connection_id: int, stream) -> None:
    """The order stream was read whole: every order it has left its facts."""
    if stream.kind == ORDER_KIND:
        cursor_row(session, connection_id, FACTS_READ + stream.name).value = "read"


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


def _in_store_currency(value: Any, rate: Any) -> Decimal:
    amount, rate = _decimal(value), _decimal(rate)
    return amount / rate if rate > 0 else amount


def _facts(order: dict[str, Any]) -> dict[str, Any]:
    rate = order.get("exchange_rate")
    return {
        "email": email_of(order),
        "counts": not (order.get("is_incomplete") or order.get("is_deleted")),
        "amount": str(_in_store_currency(order.get("total"), rate)),
        "refunded": str(_in_store_currency(order.get("refunded"), rate)),
        "number": str(order.get("number") or order["id"])[:255],
        "date_created": parse_time(order["date_created"]),
        "date_modified": parse_time(order["date_modified"]) if order.get("date_modified") else None,
    }


def _is_older(facts: dict[str, Any], row: OrderFact) -> bool:
    mine, theirs = facts["date_modified"], row.date_modified
    return bool(mine and theirs) and mine < theirs


def record_orders(
    session: Session, connection_id: int, orders: Sequence[dict[str, Any]],
    profiles: dict[str, ContactProfile],
) -> None:
    """Keep the facts of these orders and bring the lifetime fields of every email they touch
    (their emails, and the ones they had before) up to date. ``profiles``: those already loaded."""
    by_id = {str(order["id"]): order for order in orders}
    rows = _rows(session, connection_id, list(by_id))
    touched: set[str] = set()
    for order_id, order in by_id.items():
        facts = _facts(order)
        row = rows.get(order_id)
        if row is None:
            row = OrderFact(connection_id=connection_id, order_id=order_id, **facts)
            session.add(row)
        elif _is_older(facts, row):
            continue
        else:
            touched.add(row.email)
            for key, value in facts.items():
                setattr(row, key, value)
        touched.add(facts["email"])
    session.flush()
    refresh(session, connection_id, touched, profiles)


def forget_orders(session: Session, connection_id: int, order_ids: Iterable[str]) -> None:
    """Orders deleted outright in the store: they count no more."""
    rows = _rows(session, connection_id, sorted(set(order_ids)))
    for row in rows.values():
        row.counts = False
    session.flush()
    refresh(session, connection_id, {row.email for row in rows.values()}, {})


def refresh(
    session: Session, connection_id: int, emails: set[str], profiles: dict[str, ContactProfile]
) -> None:
    """Derive the lifetime fields of these emails from their counting facts; a profile whose
    fields changed is marked dirty."""
    wanted = sorted(emails)
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        counting: dict[str, list[OrderFact]] = {email: [] for email in chunk}
        for row in session.scalars(
            select(OrderFact).where(
                OrderFact.connection_id == connection_id,
                OrderFact.email.in_(chunk),
                OrderFact.counts.is_(True),
            )
        ):
            counting[row.email].append(row)
        missing = [email for email in chunk if email not in profiles]
        found = dict(profiles)
        if missing:
            found.update(
                (profile.email, profile)
                for profile in session.scalars(
                    select(ContactProfile).where(
                        ContactProfile.connection_id == connection_id,
                        ContactProfile.email.in_(missing),
                    )
                )
            )
        for email, facts in counting.items():
            profile = found.get(email)
            lifetime = lifetime_fields(facts)
            if profile is not None and profile.lifetime != lifetime:
                profile.lifetime = lifetime
                profile.dirty = True


def lifetime_fields(facts: Sequence[OrderFact]) -> dict[str, Any] | None:
    """The lifetime order fields of one email from its counting orders (None: it has none)."""
    if not facts:
        return None
    ordered = sorted(facts, key=_order_key)
    spent = sum((_decimal(f.amount) - _decimal(f.refunded) for f in facts), Decimal(0))
    first, last = ordered[0], ordered[-1]
    return {
        "order_count": len(facts),
        "total_spent": str(spent.quantize(CENTS, ROUND_HALF_UP)),
        "average_order_value": str((spent / len(facts)).quantize(CENTS, ROUND_HALF_UP)),
        "first_order_date": _iso(first.date_created),
        "last_order_date": _iso(last.date_created),
        "last_order_number": last.number,
    }


def _rows(session: Session, connection_id: int, order_ids: list[str]) -> dict[str, OrderFact]:
    found: dict[str, OrderFact] = {}
    for start in range(0, len(order_ids), CHUNK):
        found.update(
            (row.order_id, row)
            for row in session.scalars(
                select(OrderFact).where(
                    OrderFact.connection_id == connection_id,
                    OrderFact.order_id.in_(order_ids[start : start + CHUNK]),
                )
            )
        )
    return found


def _order_key(fact: OrderFact) -> tuple:
    return (parse_time(fact.date_created), len(fact.order_id), fact.order_id)


def _iso(moment: datetime) -> str:
    return parse_time(moment).isoformat()
