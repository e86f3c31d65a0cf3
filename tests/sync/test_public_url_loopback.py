"""A public URL that is not https on port 443, end to end over loopback: BigCommerce would refuse
every webhook to it, so the host asks for none, says so on /healthz and on the Store tab, and
the periodic sync still mirrors the store exactly. The admin's development opt-out
(``[host] allow_insecure_public_url``) brings instant updates back at the next cycle."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from sqlalchemy import select

from host.db import get_db
from host.models import Base, Connection, ConnectionProblem
from host.sync import run_cycle
from plugins.bigcommerce.webhooks import HOOK_SCOPES
from tests.sync.loopback import (
    Emulators,
    StoreSize,
    actual_state,
    expected_state,
    host_config,
    install_and_connect,
    live_host,
    start_emulators,
    wait_for_events,
)
from tests.web.conftest import Merchant, page_text

SIZE = StoreSize(customers=20, subscribers=8, orders=30, products=5)
OFF = "Instant updates are off"


@contextmanager
def loop_with_public_url(make_app, public_url: str | None) -> Iterator[tuple]:
    """The loopback world, its host's public URL set to ``public_url`` (None: its own loopback
    http address) without the development opt-out: (app, emulators, connection id, host URL)."""
    emulators = start_emulators(SIZE)
    try:
        with live_host() as (host_url, late):
            config = host_config(emulators, host_url)
            config["HOST"] = {"public_url": public_url or host_url}  # no allow_insecure_public_url
            app = make_app(**config)
            with app.app_context():
                Base.metadata.create_all(get_db().engine)
            late.app = app
            yield app, emulators, install_and_connect(app, emulators, host_url), host_url
    finally:
        emulators.stop()


def hook_calls(emulators: Emulators) -> int:
    counts = requests.get(f"{emulators.bigcommerce.url}/_emulator/state?summary=1", timeout=30).json()["requests"]
    return sum(n for call, n in counts.items() if "/v3/hooks" in call)


def store_tab(app, connection_id: int) -> str:
    """The Store tab's text, as the store's owner sees it (installed through the control panel)."""
    with app.app_context(), get_db().transaction() as session:
        users = session.get(Connection, connection_id).source_data.get("users") or {"1": {}}
    merchant = Merchant(app.test_client(), connection_id)
    with merchant.client.session_transaction() as browser:
        browser["user"] = {"id": int(next(iter(users))), "email": "owner@example.com"}
    response = merchant.get("/settings/store")
    assert response.status_code == 200
    return page_text(response)


def cycle_mirrors_the_store(app, emulators: Emulators, connection_id: int) -> None:
    with app.app_context():
        run = run_cycle(connection_id, trigger="schedule")
    assert run.status == "finished", run.errors
    expected, actual = expected_state(emulators.store()), actual_state(emulators.account())
    for part in ("customers_book", "subscribers_book", "orders", "products"):
        assert expected[part] == actual[part], part


def test_an_http_public_url_keeps_webhooks_off_visibly_while_the_periodic_sync_is_exact(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="host"), loop_with_public_url(make_app, None) as loop:
        app, emulators, connection_id, host_url = loop
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "public URL" in r.getMessage()]
        assert len(warnings) == 1 and host_url in warnings[0] and "not https" in warnings[0]

        assert emulators.store()["hooks"] == [] and hook_calls(emulators) == 0  # nothing was asked
        health = app.test_client().get("/healthz")
        assert health.status_code == 200  # the host works: only instant updates are off
        assert health.get_json()["public_url"]["status"] == "problem"
        assert "https on port 443" in health.get_json()["public_url"]["problem"]
        page = store_tab(app, connection_id)
        assert OFF in page and host_url in page and "https on port 443" in page and "periodic sync" in page

        cycle_mirrors_the_store(app, emulators, connection_id)
        cycle_mirrors_the_store(app, emulators, connection_id)
        assert hook_calls(emulators) == 0  # no failing call, cycle after cycle
        assert OFF in store_tab(app, connection_id)


def test_a_public_url_on_port_8443_turns_instant_updates_off_until_the_admin_allows_it(make_app):
    with loop_with_public_url(make_app, None) as (app, emulators, connection_id, host_url):
        app.config["HOST"]["allow_insecure_public_url"] = True  # connected with hooks, as today
        app.config["HOST"]["public_url"] = host_url
        with app.app_context(), get_db().transaction() as session:
            app.extensions["host.plugins"].connection_ready(session.get(Connection, connection_id))
        assert len(emulators.store()["hooks"]) == len(HOOK_SCOPES)
        calls = hook_calls(emulators)

        app.config["HOST"].update(public_url="https://connector.example.com:8443", allow_insecure_public_url=False)
        cycle_mirrors_the_store(app, emulators, connection_id)
        assert hook_calls(emulators) == calls
        assert app.test_client().get("/healthz").get_json()["public_url"] == {
            "status": "problem",
            "url": "https://connector.example.com:8443",
            "problem": "the public URL uses port 8443, not 443; it must be https on port 443",
        }
        page = store_tab(app, connection_id)
        assert OFF in page and "https://connector.example.com:8443" in page and "port 8443" in page

        app.config["HOST"].update(public_url=host_url, allow_insecure_public_url=True)  # the opt-out
        cycle_mirrors_the_store(app, emulators, connection_id)  # registers at once, not an hour on
        assert OFF not in store_tab(app, connection_id)
        with app.app_context(), get_db().transaction() as session:
            problems = session.scalars(select(ConnectionProblem).where(ConnectionProblem.connection_id == connection_id))
            assert list(problems) == []
        assert app.test_client().get("/healthz").get_json()["public_url"]["status"] == "insecure allowed"
        emulators.update("customers", 3, first_name="Hooked")  # instant updates work again over http
        assert wait_for_events(app, connection_id, 1) >= 1
