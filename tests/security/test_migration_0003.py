"""Migration 0003 on a database with data: secrets get their digest, waiting poison events fail."""

from __future__ import annotations

from sqlalchemy import text

from host import crypto, migrations
from host.db import get_db


def test_upgrade_fills_secret_digests_and_fails_waiting_poison_events(make_app):
    app = make_app()
    with app.app_context():
        migrations.upgrade("0002")
        with get_db().engine.begin() as connection:
            connection.execute(
                text("INSERT INTO connections (id, source, source_account, store_name, store_url, source_data,"
                     " destination_data, webhook_secret, sync_enabled, installed_at)"
                     " VALUES (1, 'bigcommerce', 'abc', 'Shop', '', '{}', '{}', :secret, :on, CURRENT_TIMESTAMP)"),
                {"secret": crypto.encrypt('{"value": "old-secret"}'), "on": True},
            )
            for number, record_id in enumerate(("32", "abc", "../../v2/store", "1.5")):
                connection.execute(
                    text("INSERT INTO webhook_inbox (connection_id, dedupe_key, stream, record_id, payload,"
                         " received_at) VALUES (1, :key, 'customers', :record, '{}', CURRENT_TIMESTAMP)"),
                    {"key": f"k{number}", "record": record_id},
                )
        migrations.upgrade()
        with get_db().engine.connect() as connection:
            digest = connection.execute(text("SELECT webhook_secret_digest FROM connections")).scalar()
            inbox = connection.execute(
                text("SELECT record_id, processed_at IS NOT NULL, failed_reason IS NOT NULL, attempts"
                     " FROM webhook_inbox ORDER BY id")
            ).all()
    assert digest is not None and len(digest) == 64
    assert [tuple(row) for row in inbox] == [
        ("32", False, False, 0), ("abc", True, True, 0), ("../../v2/store", True, True, 0), ("1.5", True, True, 0),
    ]
    client = app.test_client()  # the digest finds the store from the header alone
    response = client.post("/bigcommerce/webhooks", headers={"X-Connector-Webhook-Secret": "old-secret"},
                           json={"scope": "store/customer/updated", "data": {"id": 5}, "producer": "stores/abc"})
    assert response.status_code == 200
