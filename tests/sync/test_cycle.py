"""One cycle puts everything where the store says it belongs, and a second sends nothing."""

from __future__ import annotations

from sqlalchemy import select

from host.models import StreamCursor
from tests.sync.fakes import at, customer, order, product, subscriber


def fill_history(store):
    """A store as found at connection time: nothing here is new."""
    for cid in range(1, 6):
        store.customers[str(cid)] = customer(cid, f"c{cid}@example.com", at(1, cid))
    store.subscribers["s1"] = subscriber("s1", "c1@example.com", at(2))
    store.subscribers["s2"] = subscriber("s2", "fan@example.com", at(2, 1))
    store.subscribers["s3"] = subscriber("s3", "c2@example.com", at(2, 2), opted_in=False)
    store.orders["100"] = order(100, "c1@example.com", at(3), customer_id="1")
    store.orders["101"] = order(101, "guest@example.com", at(3, 1))
    store.orders["102"] = order(
        102, "c3@example.com", at(3, 2), customer_id="3", is_incomplete=True
    )
    store.orders["103"] = order(103, "c4@example.com", at(3, 3), customer_id="4", is_deleted=True)
    store.orders["104"] = order(104, "c5@example.com", at(3, 4), customer_id="5")
    store.products["p1"] = product("p1", at(4))
    store.products["p2"] = product("p2", at(4, 1), visible=False)


def test_first_cycle_puts_each_record_where_it_belongs_and_enrols_nobody(world):
    fill_history(world.store)

    run = world.sync()

    dest = world.destination
    customers = {f"c{i}@example.com" for i in range(1, 6)}
    assert dest.book("B-customers") == customers | {"guest@example.com"}
    assert dest.book("B-subscribers") == {"c1@example.com", "fan@example.com"}
    assert dest.contacts["fan@example.com"]["payload"]["consent"]["url"] == "https://shop.example"
    assert set(dest.collections["Orders"]) == {"100", "101", "104"}
    assert set(dest.collections["Catalog_Default"]) == {"p1"}
    assert dest.enrolments == [] and world.enrolments() == []
    assert run.status == "finished"
    assert run.counts["orders"]["excluded"] == 2 and run.counts["products"]["excluded"] == 1
    assert world.ledger("orders", "102").state == "excluded"
    cursors = {row.stream: row.value for row in world.query(select(StreamCursor))}
    assert cursors["orders"] == at(3, 4)


def test_a_second_cycle_with_no_changes_sends_nothing(world):
    fill_history(world.store)
    world.sync()
    writes_after_first = sum(world.destination.writes.values())

    run = world.sync()

    assert sum(world.destination.writes.values()) == writes_after_first
    assert run.counts["customers"]["sent"] == 0 and run.counts["orders"]["sent"] == 0


def test_billing_fields_follow_the_latest_order(world):
    fill_history(world.store)
    world.sync()
    before = world.destination.writes["contacts:B-customers"]
    world.store.orders["200"] = order(200, "c1@example.com", at(5), customer_id="1", postcode="ZZ9")

    world.sync()

    assert world.destination.contacts["c1@example.com"]["payload"]["fields"]["POSTCODE"] == "ZZ9"
    assert world.destination.writes["contacts:B-customers"] == before + 1  # only c1 is sent again


def test_a_mapping_change_resends_only_contacts_whose_payload_changed(world):
    fill_history(world.store)
    world.store.customers["2"]["company"] = "Acme"
    world.sync()
    before = world.destination.writes["contacts:B-customers"]

    world.save(
        "field_mapping",
        {
            "mapping": {
                "first_name": "FIRSTNAME",
                "last_name": "LASTNAME",
                "billing_postcode": "POSTCODE",
                "company": "COMPANY",
            }
        },
    )
    world.sync()
    # Everyone gains a COMPANY field (empty or not), so all are re-sent once; then unmapping a
    # field whose values were all empty changes nothing anybody would see.
    assert world.destination.contacts["c2@example.com"]["payload"]["fields"]["COMPANY"] == "Acme"
    assert world.destination.writes["contacts:B-customers"] == before + 6

    world.sync()
    assert world.destination.writes["contacts:B-customers"] == before + 6


def test_an_unsubscribe_in_the_store_removes_the_contact_from_the_subscribers_book_only(world):
    fill_history(world.store)
    world.sync()
    world.store.subscribers["s1"].update(opted_in=False, date_modified=at(6))

    world.sync()

    assert "c1@example.com" not in world.destination.book("B-subscribers")
    assert "c1@example.com" in world.destination.book("B-customers")


def test_a_full_read_re_reads_everything_but_sends_nothing_unchanged(world):
    fill_history(world.store)
    world.sync()
    served = world.store.pages_served
    writes = sum(world.destination.writes.values())

    run = world.sync(full=True, trigger="cli")

    assert world.store.pages_served - served >= 5  # every stream read from the start again
    assert sum(world.destination.writes.values()) == writes
    in_books = len(world.destination.book("B-customers")) + len(world.destination.book("B-subscribers"))
    assert run.counts["contacts"]["unchanged"] == in_books  # every contact checked again, none sent
    checked = sum(run.counts[name]["unchanged"] for name in ("customers", "subscribers"))
    assert checked == in_books - 1  # all but the guest, whose orders describe it
    assert run.counts["customers"]["unchanged"] == 5  # counted where a merchant looks for them


def test_a_changed_customer_email_moves_the_contact_and_the_old_address_leaves_the_book(world):
    fill_history(world.store)
    world.sync()
    world.store.customers["2"].update(email="c2.new@example.com", date_modified=at(7))

    world.sync()

    customers_book = world.destination.book("B-customers")
    assert "c2.new@example.com" in customers_book and "c2@example.com" not in customers_book
    assert world.ledger("customer_contact", "c2@example.com").state == "excluded"
    assert world.enrolments() == []  # the same person, not a new customer


def test_a_stream_listed_out_of_cursor_order_moves_its_cursor_only_once_read_whole(world, monkeypatch):
    """Subscribers (listed by id, emitted page by page): a read that stops midway keeps the
    cursor where it was, though its first pages held the latest change; nothing is skipped."""
    import dataclasses

    from host.errors import TransientError

    fill_history(world.store)
    for n in range(4, 9):  # two pages of subscribers; the latest change on the first
        world.store.subscribers[f"s{n}"] = subscriber(f"s{n}", f"fan{n}@example.com", at(2, n))
    store, listed = world.store, type(world.store).read
    streams = [dataclasses.replace(s, ordered_by_cursor=False) if s.name == "subscribers" else s
               for s in store.streams()]
    monkeypatch.setattr(store, "streams", lambda: streams)
    broken = {"on": True}

    def read(connection, stream, *, since=None, ids=None):
        pages = listed(store, connection, stream, since=since, ids=ids)
        if stream.name != "subscribers" or ids is not None:
            yield from pages
            return
        first, *rest = list(pages)
        yield type(first)(list(reversed(first.records)) + rest[-1].records)  # the latest first
        if broken["on"]:
            raise TransientError("503 Service Unavailable")
        yield from rest[:-1]

    monkeypatch.setattr(store, "read", read)
    run = world.sync()

    assert "subscribers" in run.errors
    cursors = {row.stream: row.value for row in world.query(select(StreamCursor))}
    assert cursors.get("subscribers") is None  # not the latest date of the pages read

    broken["on"] = False
    world.sync()
    cursors = {row.stream: row.value for row in world.query(select(StreamCursor))}
    assert cursors["subscribers"] == at(2, 8)
    opted_in = {f"fan{n}@example.com" for n in range(4, 9)} | {"c1@example.com", "fan@example.com"}
    assert world.destination.book("B-subscribers") == opted_in
