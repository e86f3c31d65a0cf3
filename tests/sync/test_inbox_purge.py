"""The webhook inbox forgets events synced long ago, and only those."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from host.db import get_db
from host.models import WebhookEvent, utcnow
from host.sync import purge_processed_events


def test_only_events_processed_more_than_a_week_ago_are_forgotten(world):
    now = utcnow()
    ages = {"old-done": now - timedelta(days=8), "recent-done": now - timedelta(days=1), "waiting": None}
    with world.app.app_context(), get_db().transaction() as session:
        for key, processed_at in ages.items():
            session.add(
                WebhookEvent(
                    connection_id=world.connection_id,
                    dedupe_key=key,
                    stream="orders",
                    record_id="1",
                    received_at=now - timedelta(days=9),
                    processed_at=processed_at,
                )
            )

    with world.app.app_context():
        assert purge_processed_events() == 1
        kept = set(get_db().session.scalars(select(WebhookEvent.dedupe_key)))
    assert kept == {"recent-done", "waiting"}
