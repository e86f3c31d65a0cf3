"""Health at a glance on the Store tab: per area, counted from the ledger and the enrolments,
equal to an independent count of what the (fake) destination holds; the last full sync stays
visible after instant updates; the status endpoint carries the same numbers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from host.db import get_db
from host.models import Connection, ConnectionProblem, LedgerEntry, WebhookEvent, utcnow
from host.sync import run_fast_lane
from host.web.merchant.health import next_sync, store_health
from tests.sync.conftest import make_world
from tests.sync.fakes import at, customer, subscriber
from tests.sync.test_cycle import fill_history
from tests.web.conftest import Merchant, page_text

MAX_ATTEMPTS = 3  # the world's [sync] max_attempts


@pytest.fixture
def world(make_app):
    """The engine's fake store and destination, one cycle at a time (``tests.sync.conftest``)."""
    return make_world(make_app)


def health_of(world) -> dict:
    with world.app.app_context(), get_db().transaction() as session:
        connection = session.get(Connection, world.connection_id)
        return store_health(session, connection, max_attempts=MAX_ATTEMPTS, source=world.store)


def areas_of(health: dict) -> dict[str, dict]:
    return {area["key"]: area for area in health["health"]["areas"]}


def details(area: dict, key: str) -> dict[str, int]:
    return {item["label"]: item["count"] for item in area[key]}


def a_store_with_news(world) -> None:
    """History, then after the connection: a new customer (enrolled), a new subscriber, and a
    customer the destination refuses."""
    fill_history(world.store)
    world.sync()
    world.store.customers["9"] = customer(9, "new@example.com", at(11))
    world.store.subscribers["s9"] = subscriber("s9", "fan9@example.com", at(11, 1))
    world.store.customers["10"] = customer(10, "refused@example.com", at(11, 2))
    world.destination.refuse["refused@example.com"] = "contacts:invalidEmail"
    world.sync()


def test_each_area_counts_what_the_destination_holds(world):
    a_store_with_news(world)

    health = health_of(world)

    areas, dest = areas_of(health), world.destination
    # an independent count: what the fake destination holds
    assert areas["customers"]["in_sync"] == len(dest.book("B-customers")) == 7
    assert areas["subscribers"]["in_sync"] == len(dest.book("B-subscribers")) == 3
    assert areas["orders"]["in_sync"] == len(dest.collections["Orders"]) == 3
    assert areas["catalog"]["in_sync"] == len(dest.collections["Catalog_Default"]) == 1
    # excluded, and why: the store's own facts
    assert details(areas["subscribers"], "excluded_detail") == {"Not opted in to marketing": 1}
    assert details(areas["orders"], "excluded_detail") == {
        "Incomplete order (abandoned checkout)": 1, "Archived order": 1}
    assert details(areas["catalog"], "excluded_detail") == {"Hidden product": 1}
    # the refused contact backs off: waiting, not yet needing attention
    assert areas["customers"]["waiting"] == 1 and areas["customers"]["attention"] == 0
    assert details(areas["customers"], "waiting_detail") == {"Retrying after a refusal": 1}
    # programs: enrolled as the destination says
    programs = {area["program_id"]: area for area in areas.values() if area["kind"] == "program"}
    enrolled = dest.enrolled()
    assert programs["P-customer"]["in_sync"] == enrolled.count(("P-customer", "new@example.com")) == 1
    assert programs["P-subscriber"]["in_sync"] == enrolled.count(("P-subscriber", "fan9@example.com")) == 1
    assert programs["P-first-order"]["in_sync"] == 0
    # the refused customer's welcome waits for its contact
    assert details(programs["P-customer"], "waiting_detail") == {"Waiting for the contact to be synced": 1}
    assert health["health"]["sentence"] == "Syncing: 1 record and 1 enrolment waiting."


def test_a_record_refused_max_attempts_times_needs_attention_and_the_sentence_says_so(world):
    a_store_with_news(world)
    with world.app.app_context(), get_db().transaction() as session:
        session.execute(update(LedgerEntry).where(LedgerEntry.source_id == "refused@example.com")
                        .values(attempts=MAX_ATTEMPTS))

    health = health_of(world)

    customers = areas_of(health)["customers"]
    assert customers["attention"] == 1 and customers["waiting"] == 0
    assert health["health"]["state"] == "attention"
    assert health["health"]["sentence"] == "1 record needs your attention."


def test_a_store_change_the_store_keeps_refusing_needs_attention_in_its_area(world):
    fill_history(world.store)
    world.sync()
    with world.app.app_context(), get_db().transaction() as session:
        session.add(WebhookEvent(connection_id=world.connection_id, dedupe_key="o999", stream="orders",
                                 record_id="999", attempts=MAX_ATTEMPTS, failed_reason="404 Not Found",
                                 processed_at=utcnow()))

    health = health_of(world)

    assert areas_of(health)["orders"]["attention"] == 1
    assert health["health"]["sentence"] == "1 store change needs your attention."


def test_everything_in_sync_is_said_plainly(world):
    fill_history(world.store)
    world.sync()

    health = health_of(world)["health"]

    assert health["state"] == "ok" and health["sentence"] == "Everything is in sync."
    assert health["totals"]["waiting"] == health["totals"]["attention"] == 0


def test_an_area_paused_by_a_configuration_problem_says_so(world):
    fill_history(world.store)
    world.sync()
    with world.app.app_context(), get_db().transaction() as session:
        session.add(ConnectionProblem(connection_id=world.connection_id, code="insight_disabled", area="orders",
                                      message="Insight data is not enabled on your account."))

    health = health_of(world)

    assert areas_of(health)["orders"]["paused"] == "Insight data is not enabled on your account."
    assert areas_of(health)["customers"]["paused"] is None
    assert health["health"]["sentence"].startswith("Paused until a setting is fixed: Orders")


def test_the_page_and_the_status_endpoint_show_the_same_health(world):
    a_store_with_news(world)
    merchant = Merchant(world.app.test_client(), world.connection_id)

    page = page_text(merchant.get("/settings/store"))
    status = merchant.get("/settings/store/status").get_json()

    expected = areas_of(health_of(world))
    assert {area["key"]: area for area in status["health"]["areas"]} == expected
    assert 'id="health-sentence" aria-live="polite">Syncing: 1 record and 1 enrolment waiting.</p>' in page
    row = re.search(r'<tr data-area="customers">(.*?)</tr>', page).group(1)
    assert f'<td data-count="in_sync"><span class="count">{len(world.destination.book("B-customers"))}</span>' in row
    assert "Retrying after a refusal: 1" in row
    assert "Next full sync:" in page


def test_the_last_full_sync_stays_visible_after_an_instant_update(world):
    fill_history(world.store)
    full = world.sync()
    world.store.customers["9"] = customer(9, "new@example.com", at(11))
    with world.app.app_context():
        with get_db().transaction() as session:
            session.add(WebhookEvent(connection_id=world.connection_id, dedupe_key="c9", stream="customers",
                                     record_id="9"))
        instant = run_fast_lane(world.connection_id)
    assert instant is not None and instant.status == "finished"
    merchant = Merchant(world.app.test_client(), world.connection_id)

    status = merchant.get("/settings/store/status").get_json()
    page = page_text(merchant.get("/settings/store"))

    assert status["last_run"]["id"] == instant.id  # the latest run of all is the instant one …
    assert status["last_full_run"]["id"] == full.id  # … but the full sync is kept apart
    assert status["instant_updates"]["latest_records"] == 1
    assert status["instant_updates"]["records_last_hour"] == 1
    assert f'id="last-run" data-run-id="{full.id}"' in page
    assert "Last full sync" in page and "Instant updates" in page
    customers = re.search(r'<tr data-stream="customers">(.*?)</tr>', page).group(1)
    assert re.findall(r"<td[^>]*>(\d+)</td>", customers) == ["5", "5", "0", "0", "0"]


def test_the_counts_add_up_and_contacts_are_their_own_explained_area(world):
    fill_history(world.store)
    world.sync()
    merchant = Merchant(world.app.test_client(), world.connection_id)

    status = merchant.get("/settings/store/status").get_json()
    page = page_text(merchant.get("/settings/store"))

    full = status["last_full_run"]
    for row in [*full["streams"], full["contacts"]]:
        assert row["read"] == row["sent"] + row["unchanged"] + row["excluded"] + row["failed"], row
    assert [row["name"] for row in full["streams"]] == ["customers", "subscribers", "orders", "products"]
    assert full["contacts"]["sent"] == len(world.destination.book("B-customers")) + len(
        world.destination.book("B-subscribers"))
    assert 'data-stream="contacts"' in page and 'data-stream="enrolments"' not in page
    assert "Contacts: people built from customers, subscribers and guests; each is sent once per book" in page


def test_the_next_sync_comes_from_the_scheduler_or_about_an_interval_after_the_last(world):
    now = utcnow()
    connection = Connection(sync_enabled=True, last_sync_at=now - timedelta(minutes=2), id=1)

    class Scheduler:
        running = True

        def next_cycle_at(self, connection_id):
            return now + timedelta(minutes=3, seconds=7)

    with world.app.app_context():
        about = next_sync(connection, running=False, interval_seconds=300, now=now)
        exact = next_sync(connection, running=False, interval_seconds=300, scheduler=Scheduler(), now=now)
        connection.sync_enabled = False
        off = next_sync(connection, running=False, interval_seconds=300, scheduler=Scheduler(), now=now)

    assert about["approximate"] and about["text"].startswith("About ")
    assert about["at"] == (now + timedelta(minutes=3)).isoformat()
    assert not exact["approximate"] and exact["at"] == (now + timedelta(minutes=3, seconds=7)).isoformat()
    assert off["at"] is None and "off" in off["text"]
