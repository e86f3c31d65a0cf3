"""An event queued again while the fast lane is reading its record stays queued."""

from __future__ import annotations

from sqlalchemy import select, update

from host.db import get_db
from host.models import WebhookEvent, utcnow
from host.sync import connections_with_events, run_fast_lane
from tests.sync.fakes import at, order
from tests.sync.test_lock_and_fast_lane import add_event, fill_history


def requeue(world, record_id: str) -> None:
    """What the webhook receiver does when the same event arrives again (a second change)."""
    with world.app.app_context(), get_db().transaction() as session:
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.record_id == record_id)
            .values(processed_at=None, received_at=utcnow())
        )


def test_a_change_arriving_during_the_fast_lane_read_is_read_again(world):
    fill_history(world.store)
    world.sync()
    world.store.orders["900"] = order(900, "quick@example.com", at(11))
    add_event(world, "orders", "900")
    real_read = world.store.read
    reads = []

    def read_then_change(connection, stream, **kwargs):
        pages = list(real_read(connection, stream, **kwargs))
        if kwargs.get("ids") == ["900"]:
            reads.append(stream.name)
            if len(reads) == 1:  # the store changes the order again while we are reading it
                world.store.orders["900"] = order(900, "quick@example.com", at(11), status="Shipped")
                requeue(world, "900")
        yield from pages

    world.store.read = read_then_change
    with world.app.app_context():
        run_fast_lane(world.connection_id)
        assert connections_with_events() == []
        events = list(get_db().session.scalars(select(WebhookEvent)))
    assert reads == ["orders", "orders"], "the re-queued event is read again"
    assert [event.processed_at is not None for event in events] == [True]
    assert world.destination.collections["Orders"]["900"]["status"] == "Shipped"
