"""Connecting an Engagement Cloud account: credentials, region endpoint, clear refusals."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text

from host.connections import connect
from host.db import get_db
from host.errors import ConfigurationError
from host.models import Connection
from host.plugins import get_plugins

from .conftest import DEMO, NORTH_AMERICA, make_connection


def test_good_credentials_store_the_region_endpoint_and_an_encrypted_password(ec_app, emulator):
    connection = make_connection(DEMO)

    assert connection.destination == "engagement_cloud"
    assert connection.destination_account == DEMO["api_user"]
    assert connection.destination_data["api_endpoint"] == f"{emulator.url}/r1"
    assert connection.destination_data["region"] == "r1"
    assert connection.destination_secrets == {"username": DEMO["api_user"], "password": DEMO["password"]}
    raw = get_db().session.execute(text("SELECT destination_secrets FROM connections")).scalar_one()
    assert DEMO["password"] not in raw


def test_an_account_in_another_region_is_used_through_its_own_endpoint(ec_app, destination, emulator):
    connection = make_connection(NORTH_AMERICA)

    assert connection.destination_data["region"] == "r2"
    assert connection.destination_data["api_endpoint"] == f"{emulator.url}/r2"
    # r1 would refuse this account (403): the books come back only through the r2 endpoint
    assert [book.name for book in destination.address_books(connection)] == ["NA customers"]


def test_a_wrong_password_is_refused_with_a_message_naming_the_credentials(ec_app, destination):
    with pytest.raises(ConfigurationError) as refused:
        destination.check_credentials({"username": DEMO["api_user"], "password": "not-it"})

    assert refused.value.code == "destination_credentials"
    assert "username and password" in refused.value.message
    assert "not-it" not in refused.value.message


def test_a_locked_api_user_is_told_to_unlock_it_and_nothing_is_stored(ec_app, emulator):
    emulator.control("PATCH", f"/accounts/{DEMO['api_user']}", locked=True)
    session = get_db().session
    store = Connection(source="bigcommerce", source_account="store-locked", store_name="Demo store")
    session.add(store)
    session.commit()

    with pytest.raises(ConfigurationError) as refused:
        connect(session, get_plugins(), store, "engagement_cloud",
                {"username": DEMO["api_user"], "password": DEMO["password"]})
    session.commit()  # whatever the page does next, the refusal left nothing to save

    assert refused.value.code == "destination_credentials"
    assert "locked or disabled" in refused.value.message
    assert "Settings › Access › API users" in refused.value.message
    assert DEMO["password"] not in refused.value.message
    session.expire_all()
    assert (store.destination, store.destination_account, store.connected_at) == (None, None, None)
    assert not store.destination_data and not store.destination_secrets
    raw = session.execute(text("SELECT destination_secrets FROM connections")).scalar_one()
    assert raw is None or DEMO["password"] not in raw
    emulator.control("PATCH", f"/accounts/{DEMO['api_user']}", locked=False)  # unlocked in the app
    assert make_connection(DEMO).destination_account == DEMO["api_user"]


def test_a_disabled_api_user_is_refused_like_a_locked_one_on_its_region_endpoint_too(
        ec_app, destination, emulator):
    connection = make_connection(NORTH_AMERICA)  # connected while enabled; reads from r2
    emulator.control("PATCH", f"/accounts/{NORTH_AMERICA['api_user']}", disabled=True)

    with pytest.raises(ConfigurationError) as refused:
        destination.check_credentials({"username": NORTH_AMERICA["api_user"],
                                       "password": NORTH_AMERICA["password"]})
    assert refused.value.code == "destination_credentials"
    assert "locked or disabled" in refused.value.message
    with pytest.raises(ConfigurationError) as later:  # every call, not only the check
        destination.address_books(connection)
    assert later.value.code == "destination_credentials"
    assert "locked or disabled" in later.value.message
    assert emulator.state(NORTH_AMERICA["api_user"])["disabled"] is True


def test_an_unreachable_service_says_so(make_ec_app):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app = make_ec_app(api_base_url=f"http://127.0.0.1:{closed_port}", max_attempts=2)
    with app.app_context():
        from host.plugins import get_plugins

        with pytest.raises(ConfigurationError) as refused:
            get_plugins().destination("engagement_cloud").check_credentials(
                {"username": DEMO["api_user"], "password": DEMO["password"]})
    assert refused.value.code == "destination_unreachable"
    assert "could not be reached" in refused.value.message
