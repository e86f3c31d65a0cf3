"""Lifetime order fields per email, kept exact whatever the store does to an order: re-read,
status changed, refunded, archived, moved to another email, deleted outright; and computed for
a connection whose orders were read before the fields existed."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from host.db import get_db
from host.models import ContactProfile, OrderFact, StreamCursor
from tests.sync.fakes import at, order
from tests.sync.test_gone_by_id import fast_lane

LIFETIME = {
    "order_count": "ORDERS",
    "total_spent": "SPENT",
    "average_order_value": "AOV",
    "first_order_date": "FIRST_ORDER",
    "last_order_date": "LAST_ORDER",
    "last_order_number": "LAST_ORDER_NO",
}
MAPPING = {"first_name": "FIRSTNAME", **LIFETIME}


def fields_of(world, email: str) -> dict:
    return {name: world.destination.contacts[email]["payload"]["fields"][name] for name in LIFETIME.values()}


def contact_writes(world) -> int:
    return world.destination.writes["contacts:B-customers"]


def test_a_guests_fields_count_each_order_once_through_re_reads_and_changes(world):
    world.save("field_mapping", {"mapping": MAPPING})
    store = world.store.orders
    store["1"] = order(1, "Guest@Example.com", at(1), total="10.00")
    store["2"] = order(2, "guest@example.com", at(2), total="20.00")
    store["3"] = order(3, "guest@example.com", at(3), total="30.50")
    store["4"] = order(4, "guest@example.com", at(4), total="99.00", is_incomplete=True)
    store["5"] = order(5, "other@example.com", at(5), total="7.00")
    world.sync()

    assert fields_of(world, "guest@example.com") == {
        "ORDERS": 3, "SPENT": "60.50", "AOV": "20.17", "FIRST_ORDER": "2025-06-01T00:00:00+00:00",
        "LAST_ORDER": "2025-06-03T00:00:00+00:00", "LAST_ORDER_NO": "3",
    }

    # Read whole again (every order re-read): nothing counts twice, nobody is sent again.
    writes = contact_writes(world)
    world.sync(full=True)
    assert fields_of(world, "guest@example.com")["ORDERS"] == 3
    assert contact_writes(world) == writes

    # A refund lowers the total; the Incomplete order completes and counts; both in one cycle.
    store["2"] |= {"refunded": "5.00", "date_modified": at(11)}
    store["4"] |= {"is_incomplete": False, "date_modified": at(11)}
    world.sync()
    assert fields_of(world, "guest@example.com") | {"FIRST_ORDER": None} == {
        "ORDERS": 4, "SPENT": "154.50", "AOV": "38.63", "FIRST_ORDER": None,
        "LAST_ORDER": "2025-06-04T00:00:00+00:00", "LAST_ORDER_NO": "4",
    }
    assert contact_writes(world) == writes + 1  # the other contact did not change

    # Archived: it stops counting. Moved to another email: it counts there, not here.
    store["4"] |= {"is_deleted": True, "date_modified": at(12)}
    store["3"] |= {"email": "other@example.com", "date_modified": at(12)}
    world.sync()
    assert fields_of(world, "guest@example.com") | {"FIRST_ORDER": None} == {
        "ORDERS": 2, "SPENT": "25.00", "AOV": "12.50", "FIRST_ORDER": None,
        "LAST_ORDER": "2025-06-02T00:00:00+00:00", "LAST_ORDER_NO": "2",
    }
    other = fields_of(world, "other@example.com")
    assert (other["ORDERS"], other["SPENT"], other["LAST_ORDER_NO"]) == (2, "37.50", "5")


def test_amounts_are_in_the_stores_currency_and_an_older_copy_changes_nothing(world):
    world.save("field_mapping", {"mapping": MAPPING})
    store = world.store.orders
    store["1"] = order(1, "a@example.com", at(1), total="10.00")
    store["2"] = order(2, "a@example.com", at(2), total="200.00", refunded="20.00", exchange_rate="2")
    world.sync()
    assert fields_of(world, "a@example.com")["SPENT"] == "100.00"  # 10 + (200 - 20) / 2

    # A page read before the fast lane applied a newer copy lands after it: ignored.
    from host.sync.order_facts import record_orders

    with world.app.app_context(), get_db().transaction() as session:
        profiles = {p.email: p for p in session.scalars(select(ContactProfile))}
        newer = order(1, "a@example.com", at(1), total="10.00", is_deleted=True, modified=at(12))
        record_orders(session, world.connection_id, [newer], profiles)
        record_orders(session, world.connection_id, [order(1, "a@example.com", at(1), total="10.00")], profiles)
        assert profiles["a@example.com"].lifetime["order_count"] == 1


def test_a_webhook_updates_them_and_an_order_deleted_outright_stops_counting(world):
    world.save("field_mapping", {"mapping": MAPPING})
    world.store.orders["1"] = order(1, "a@example.com", at(1), total="10.00")
    world.store.orders["2"] = order(2, "a@example.com", at(2), total="5.00")
    world.sync()
    world.store.orders["3"] = order(3, "a@example.com", at(11), total="6.00")

    fast_lane(world, ("orders", "3"))
    assert (fields_of(world, "a@example.com")["ORDERS"], fields_of(world, "a@example.com")["SPENT"]) == (3, "21.00")

    del world.store.orders["2"]  # a read by id no longer returns it
    fast_lane(world, ("orders", "2"))
    assert (fields_of(world, "a@example.com")["ORDERS"], fields_of(world, "a@example.com")["SPENT"]) == (2, "16.00")


def test_a_connection_synced_before_the_fields_existed_reads_its_orders_whole_once(world):
    world.save("field_mapping", {"mapping": MAPPING})
    world.store.orders["1"] = order(1, "a@example.com", at(1), total="10.00")
    world.sync()
    with world.app.app_context(), get_db().transaction() as session:  # as after the upgrade to 0008
        session.execute(delete(OrderFact))
        session.execute(delete(StreamCursor).where(StreamCursor.stream.like("~order_facts:%")))
        session.execute(update(ContactProfile).values(lifetime=None))
    world.store.orders["2"] = order(2, "a@example.com", at(11), total="5.00")

    world.sync()  # the orders cursor alone would read order 2 only

    assert fields_of(world, "a@example.com")["ORDERS"] == 2
    pages = world.store.pages_served
    world.sync()
    assert world.store.pages_served - pages <= 1  # from the cursor again (its overlap page)
