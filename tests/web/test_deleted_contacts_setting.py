"""The Contacts section's choice for people deleted in the store: removed from the books (the
default) or erased, offered only where the destination can erase; and what was removed or erased
so far, on the Store tab and in the last full sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from host.db import get_db
from host.models import LedgerEntry, SyncRun
from host.sync.erasure import COUNTS, ERASED, ERASURE, REMOVED
from tests.web.conftest import page_text
from tests.web.fakes import FakeDestination
from tests.web.test_store_tab import VALID, saved


def test_a_destination_that_cannot_erase_is_offered_removal_only(web_app, merchant):
    page = page_text(merchant.get("/settings/store"))
    assert 'name="deleted_contacts" value="remove" checked' in page
    assert 'value="erase"' not in page

    response = merchant.post("/settings/store", {**VALID, "deleted_contacts": "erase"})

    assert response.status_code == 400
    assert "cannot erase contacts" in page_text(response)
    assert saved(web_app, merchant.connection_id, "contacts")["deleted_contacts"] == "remove"


def test_erasure_is_offered_and_saved_where_the_destination_can_erase(web_app, merchant, monkeypatch):
    monkeypatch.setattr(FakeDestination, "erase_contacts", lambda self, connection, emails: [], raising=False)
    assert 'value="erase"' in page_text(merchant.get("/settings/store"))

    response = merchant.post("/settings/store", {**VALID, "deleted_contacts": "erase"})

    assert response.status_code == 302
    assert saved(web_app, merchant.connection_id, "contacts")["deleted_contacts"] == "erase"
    assert 'name="deleted_contacts" value="erase" checked' in page_text(merchant.get("/settings/store"))


def test_the_people_removed_and_erased_are_counted_on_the_store_tab(web_app, merchant):
    now = datetime.now(UTC)
    with web_app.app_context(), get_db().transaction() as session:
        for n, (state, reason) in enumerate([("excluded", REMOVED), ("excluded", REMOVED),
                                             ("excluded", f"{ERASED} Fake Cloud"), ("failed", "refused")]):
            session.add(LedgerEntry(connection_id=merchant.connection_id, kind=ERASURE, source_id=f"hash{n}",
                                    state=state, reason=reason, attempts=1,
                                    outbox={"key": "gone@example.com"} if state == "failed" else None))
        session.add(SyncRun(
            connection_id=merchant.connection_id, trigger="manual", status="finished",
            counts={"customers": {"read": 3, "sent": 0, "unchanged": 2, "excluded": 1, "failed": 0},
                    COUNTS: {"read": 0, "sent": 0, "unchanged": 0, "excluded": 0, "failed": 0, "erased": 1}},
            started_at=now - timedelta(minutes=3), finished_at=now - timedelta(minutes=2)))

    page = page_text(merchant.get("/settings/store"))

    assert ("So far: 2 contacts removed from the address books, 1 contact erased from Fake Cloud, "
            "1 waiting to be removed.") in page
    assert "People deleted in the store, in this sync: 1 contact erased from Fake Cloud." in page
    assert "gone@example.com" in page  # the one refused is named while it waits
    status = merchant.get("/settings/store/status").get_json()
    assert status["deleted_contacts"] == {"removed": 2, "erased": 1, "waiting": 1}
    assert status["last_run"]["deleted_contacts"] == {"erased": 1}
    assert [row["name"] for row in status["last_run"]["streams"]] == ["customers"]
