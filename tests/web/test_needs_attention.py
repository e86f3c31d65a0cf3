"""The Store tab lists what the destination refused (records and enrolments) with its reason and
a Retry, one or all, for this store only; and it says in plain words what the enrolment queue
is waiting for. (The sync side of retries: tests/sync/test_retries.py.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from host.db import get_db
from host.models import Enrolment, LedgerEntry
from host.web.merchant import format_when
from tests.web.conftest import install_store, page_text

REFUSED = "A contact to enrol does not exist in Fake Cloud"


def visible_text(response) -> str:
    """The page's words as a reader sees them: no markup, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(response)).split())


def add(app, *rows) -> list[int]:
    with app.app_context(), get_db().transaction() as session:
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def load(app, model, row_id):
    with app.app_context(), get_db().transaction() as session:
        return session.get(model, row_id)


def enrolment(connection_id: int, email: str, state: str, **values) -> Enrolment:
    return Enrolment(
        connection_id=connection_id, trigger="new_subscriber", contact_key=email,
        program_id="21", state=state, **values,
    )


def other_store(app) -> int:
    return install_store(app, account="other", name="Other store", connect_as="api-live@example.com")


def test_a_refused_enrolment_is_listed_with_its_reason_and_retry_puts_it_back_in_the_queue(web_app, merchant):
    later = datetime.now(UTC) + timedelta(hours=1)
    [mine] = add(web_app, enrolment(merchant.connection_id, "fan@example.com", "failed", reason=REFUSED,
                                    attempts=5, due_at=later))
    [theirs] = add(web_app, enrolment(other_store(web_app), "x@example.com", "failed", reason="secret of other"))

    page = visible_text(merchant.get("/settings/store"))

    assert "Enrolments that need attention (1)" in page
    assert f"fan@example.com: New subscriber, Welcome series {REFUSED} Retry" in page
    assert "secret of other" not in page

    merchant.post("/settings/store/retry", {"enrolment": str(theirs)})  # another store's id
    assert load(web_app, Enrolment, theirs).state == "failed"

    response = merchant.post("/settings/store/retry", {"enrolment": str(mine)})

    assert response.status_code == 302
    row = load(web_app, Enrolment, mine)
    assert (row.state, row.attempts, row.due_at, row.reason) == ("pending", 0, None, None)
    page = visible_text(merchant.get("/settings/store"))
    assert "1 enrolment will be retried at the next sync." in page
    assert "Enrolments that need attention" not in page


def test_retry_all_gives_this_stores_refused_records_and_enrolments_a_fresh_start(web_app, merchant):
    store = merchant.connection_id
    next_try = datetime.now(UTC) + timedelta(minutes=45)
    stuck, backing_off, theirs = add(
        web_app,
        LedgerEntry(connection_id=store, kind="orders", source_id="100", state="failed",
                    reason="JsonValueIncompatibleWithSchema", attempts=5),
        LedgerEntry(connection_id=store, kind="customer_contact", source_id="jo@example.com",
                    state="failed", reason="Email address is not valid", attempts=2,
                    next_attempt_at=next_try),
        LedgerEntry(connection_id=other_store(web_app), kind="orders", source_id="7", state="failed",
                    reason="secret of other", attempts=5),
    )
    [refused_enrolment] = add(web_app, enrolment(store, "fan@example.com", "failed", reason=REFUSED, attempts=5))

    page = visible_text(merchant.get("/settings/store"))
    assert "Records that need attention (1)" in page
    assert "Order 100 JsonValueIncompatibleWithSchema 5 times Retry" in page  # Fake Cloud explains nothing
    assert "Records being retried (1)" in page
    assert ("Contact in the customers book jo@example.com Email address is not valid 2 of 5 "
            f"{format_when(next_try)} Retry now") in page
    assert "secret of other" not in page

    merchant.post("/settings/store/retry", {"all": "1"})

    for row_id in (stuck, backing_off):
        row = load(web_app, LedgerEntry, row_id)
        assert (row.state, row.attempts, row.next_attempt_at) == ("failed", 0, None)  # due at once
    assert load(web_app, LedgerEntry, theirs).attempts == 5
    assert load(web_app, Enrolment, refused_enrolment).state == "pending"
    page = visible_text(merchant.get("/settings/store"))
    assert "2 records and 1 enrolment will be retried at the next sync." in page
    assert "Records that need attention" not in page
    assert "jo@example.com Email address is not valid 0 of 5 At the next sync" in page


def test_the_store_tab_says_how_many_enrolments_wait_and_when_the_next_call_goes(web_app, merchant):
    store = merchant.connection_id
    assert 'id="enrolment-queue"' not in page_text(merchant.get("/settings/store"))  # nothing waits
    next_call = datetime.now(UTC) + timedelta(minutes=20)
    add(web_app, *[enrolment(store, f"c{i}@example.com", "pending", due_at=next_call + timedelta(minutes=i))
                   for i in range(12)])
    add(web_app, *[enrolment(store, f"o{i}@example.com", "pending_opt_in") for i in range(3)])
    other = other_store(web_app)
    add(web_app, *[enrolment(other, f"x{i}@example.com", "pending") for i in range(5)])

    page = visible_text(merchant.get("/settings/store"))

    assert ("12 enrolments are waiting for their turn: Fake Cloud takes only a few enrolment calls an hour, "
            f"so enrolments go out in batches. The next call goes at {format_when(next_call)}.") in page
    assert "3 enrolments are waiting for the contact to confirm the double opt-in" in page
    queue = merchant.get("/settings/store/status").get_json()["enrolments"]
    assert (queue["waiting"], queue["pending_opt_in"], queue["needs_attention"]) == (12, 3, 0)
    assert datetime.fromisoformat(queue["next_send_at"]) == next_call

    add(web_app, enrolment(store, "ready@example.com", "pending"))  # due now: no later call to name
    page = visible_text(merchant.get("/settings/store"))
    assert "13 enrolments are waiting for their batch; they go out within a few minutes." in page
    assert "The next call goes at" not in page
