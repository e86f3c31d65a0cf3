"""Unsubscribes both ways, end to end over loopback, without flapping.

A contact who unsubscribes in Engagement Cloud (from the subscribers book, or from everything)
loses the newsletter consent in the BigCommerce emulator and stays out of the subscribers book
in every later cycle; a re-subscribe in the store dated after it brings them back once, with one
new-subscriber enrolment. A store installed with read-only access shows a notice and syncs one
way (the contact still stays out of the book); with the setting off nothing is written back.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from host.db import get_db
from host.models import Connection, LedgerEntry
from host.settings import get_settings, save_settings
from host.sync import run_cycle
from host.sync.unsubscribes import WRITE_BACK
from host.web.session import session_values
from tests.sync.loopback import (
    API_USER,
    PROGRAMS,
    SUBSCRIBERS_BOOK,
    StoreSize,
    actual_state,
    connected_loop,
    enrolled,
)
from tests.web.conftest import page_text

SIZE = StoreSize(customers=12, subscribers=10, orders=20, products=2, seed=31)
READ_ONLY = ["store_v2_customers_read_only", "store_v2_orders_read_only",
             "store_v2_products_read_only", "store_v2_information_read_only"]
WELCOME = PROGRAMS["new_subscriber_program_id"]


def _loop(make_app, scopes=None):
    return connected_loop(make_app, SIZE, scopes)


class World:
    def __init__(self, app, emulators, connection_id):
        self.app, self.emulators, self.connection_id = app, emulators, connection_id

    def cycle(self):
        with self.app.app_context():
            run = run_cycle(self.connection_id)
        assert run.status == "finished", run.errors
        return run

    def account(self):
        return self.emulators.account()

    def book_id(self) -> int:
        return next(b["id"] for b in self.account()["address_books"] if b["name"] == SUBSCRIBERS_BOOK)

    def subscribers_book(self) -> set[str]:
        return actual_state(self.account())["subscribers_book"]

    def subscriber(self, email: str) -> dict:
        return next(s for s in self.emulators.store()["subscribers"] if s["email"].lower() == email)

    def unsubscribe_in_cloud(self, email: str, *, book: bool = True, **extra) -> dict:
        body = {"address_book_id": self.book_id()} if book else {}
        response = requests.post(
            f"{self.emulators.engagement_cloud.url}/_emulator/accounts/{API_USER}/contacts/{email}/unsubscribe",
            json={**body, **extra}, timeout=30)
        response.raise_for_status()
        return response.json()

    def settings(self, **values) -> None:
        with self.app.app_context(), get_db().transaction() as session:
            save_settings(session, session.get(Connection, self.connection_id), "contacts", {
                **get_settings(session, session.get(Connection, self.connection_id), "contacts"), **values})

    def write_backs(self) -> dict[str, str]:
        with self.app.app_context(), get_db().transaction() as session:
            return {row.source_id: row.state for row in session.scalars(select(LedgerEntry).where(
                LedgerEntry.connection_id == self.connection_id, LedgerEntry.kind == WRITE_BACK))}


def store_tab(app, connection_id: int) -> str:
    """The Store tab as the store owner who installed the app sees it."""
    client = app.test_client()
    with app.app_context(), get_db().transaction() as session:
        connection = session.get(Connection, connection_id)
        values = session_values(connection, connection.source_data["user"])
    with client.session_transaction() as browser:
        browser.update(values)
    response = client.get("/settings/store")
    assert response.status_code == 200
    return page_text(response)


def _opted_in(world: World) -> list[str]:
    return sorted(world.subscribers_book())


@pytest.fixture
def world(make_app):
    with _loop(make_app) as (app, emulators, connection_id):
        yield World(app, emulators, connection_id)


def test_an_unsubscribe_in_the_cloud_is_written_back_and_a_later_store_subscribe_wins_once(world):
    world.cycle()
    email, other = _opted_in(world)[:2]
    assert "marketing_newsletter" in world.subscriber(email)["consents"]

    world.unsubscribe_in_cloud(email)  # from the subscribers book
    world.unsubscribe_in_cloud(other, book=False)  # from all email
    run = world.cycle()

    assert run.counts["unsubscribes"]["read"] == 2 and run.counts["unsubscribes"]["sent"] == 2
    for person in (email, other):
        assert "marketing_newsletter" not in world.subscriber(person)["consents"]
        assert person not in world.subscribers_book()
    assert world.write_backs() == {email: "synced", other: "synced"}
    for _ in range(2):  # later cycles: nothing flaps back, nothing is written again
        again = world.cycle()
        assert "unsubscribes" not in again.counts
        assert email not in world.subscribers_book() and other not in world.subscribers_book()
    assert enrolled(world.account())[(WELCOME, email)] == 0

    time.sleep(1.1)  # the store's timestamps have whole seconds: the re-subscribe is dated later
    subscriber = world.subscriber(email)
    world.emulators.update("subscribers", subscriber["id"], consents=["marketing_newsletter"])
    world.cycle()
    assert email in world.subscribers_book()
    world.cycle()
    world.cycle()
    assert email in world.subscribers_book()
    assert "marketing_newsletter" in world.subscriber(email)["consents"]  # never written back again
    assert enrolled(world.account())[(WELCOME, email)] == 1


def test_stale_store_data_never_resubscribes_and_the_setting_off_writes_nothing_back(world):
    world.cycle()
    email = _opted_in(world)[0]
    world.settings(write_back_unsubscribes=False)
    before = world.subscriber(email)

    world.unsubscribe_in_cloud(email)
    world.cycle()
    world.cycle()

    assert world.subscriber(email) == before  # the store is left as it is
    assert email not in world.subscribers_book()
    assert world.write_backs() == {email: "pending"}
    assert enrolled(world.account())[(WELCOME, email)] == 0

    # A store subscribe after the unsubscribe wins, even when the unsubscribe is learnt later:
    # nothing is written back and the contact goes back into the book.
    world.settings(write_back_unsubscribes=True)
    late = _opted_in(world)[0]
    world.emulators.update("subscribers", world.subscriber(late)["id"], first_name="Renamed")
    world.cycle()
    assert late in world.subscribers_book()
    before_late = world.subscriber(late)
    world.unsubscribe_in_cloud(late, date_removed=_minutes_ago(5))
    assert late not in world.subscribers_book()  # the book unsubscribe took it out
    world.cycle()
    assert world.subscriber(late) == before_late
    assert late in world.subscribers_book()
    assert world.write_backs()[late] == "excluded"
    assert "marketing_newsletter" not in world.subscriber(email)["consents"]  # on again: written back
    assert world.write_backs()[email] == "synced"


def _minutes_ago(minutes: int) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_store_installed_read_only_shows_a_notice_and_syncs_one_way(make_app):
    with _loop(make_app, READ_ONLY) as (app, emulators, connection_id):
        world = World(app, emulators, connection_id)
        world.cycle()
        email = _opted_in(world)[0]
        before = world.subscriber(email)

        world.unsubscribe_in_cloud(email, book=False)
        world.cycle()
        world.cycle()

        assert world.subscriber(email) == before
        assert email not in world.subscribers_book()
        page = store_tab(app, connection_id)
        assert "Unsubscribes sync one way only." in page
        assert "permission to modify customers" in page


def test_a_store_with_write_access_shows_no_notice(world):
    page = store_tab(world.app, world.connection_id)
    assert "Write unsubscribes back to BigCommerce" in page
    assert "Unsubscribes sync one way only." not in page


def test_a_crash_between_reading_and_writing_back_neither_loses_nor_repeats(world, monkeypatch):
    from host.sync import unsubscribes

    world.cycle()
    email = _opted_in(world)[0]
    world.unsubscribe_in_cloud(email)

    def crash(context):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(unsubscribes, "write_back", crash)
    with world.app.app_context(), pytest.raises(RuntimeError):
        run_cycle(world.connection_id)
    assert "marketing_newsletter" in world.subscriber(email)["consents"]
    assert world.write_backs() == {email: "pending"}  # recorded, waiting

    monkeypatch.undo()
    run = world.cycle()
    assert run.counts["unsubscribes"]["read"] == 0  # read again (overlap), recorded once only
    assert run.counts["unsubscribes"]["sent"] == 1
    assert "marketing_newsletter" not in world.subscriber(email)["consents"]
    assert world.write_backs() == {email: "synced"}
    assert "unsubscribes" not in world.cycle().counts


def test_a_refused_write_back_fails_alone_and_is_retried(world, monkeypatch):
    from host.errors import RecordError
    from plugins.bigcommerce.source import BigCommerceSource

    world.cycle()
    refused, accepted = _opted_in(world)[:2]
    world.unsubscribe_in_cloud(refused)
    world.unsubscribe_in_cloud(accepted)
    real = BigCommerceSource.write_unsubscribe

    def write(self, connection, email, unsubscribed_at):
        if email == refused:
            raise RecordError("422 the subscriber is locked")
        return real(self, connection, email, unsubscribed_at)

    monkeypatch.setattr(BigCommerceSource, "write_unsubscribe", write)
    run = world.cycle()
    assert run.counts["unsubscribes"]["failed"] == 1 and run.counts["unsubscribes"]["sent"] == 1
    assert world.write_backs() == {refused: "failed", accepted: "synced"}
    assert "marketing_newsletter" not in world.subscriber(accepted)["consents"]
    assert refused not in world.subscribers_book()  # kept out all the same

    monkeypatch.undo()
    with world.app.app_context(), get_db().transaction() as session:
        from host.sync.ledger import retry_now
        retry_now(session, world.connection_id)  # the merchant's Retry
    world.cycle()
    assert world.write_backs() == {refused: "synced", accepted: "synced"}
    assert "marketing_newsletter" not in world.subscriber(refused)["consents"]
