"""A store user removed from the app loses the settings pages at once, even mid-session."""

from __future__ import annotations

import requests

from emulators.bigcommerce import signed_payload_jwt
from emulators.bigcommerce.accounts import store_users
from tests.bigcommerce.conftest import CLIENT_ID, CLIENT_SECRET, STORE_HASH


def open_app_as(world, who: str) -> requests.Session:
    """The store user's browser opening the app from the control panel (a signed load)."""
    users = store_users(STORE_HASH)
    token = signed_payload_jwt(CLIENT_ID, CLIENT_SECRET, STORE_HASH, users[who], users["owner"], "/", None)
    browser = requests.Session()
    response = browser.get(f"{world.host_url}/bigcommerce/load", params={"signed_payload_jwt": token}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return browser


def test_a_removed_user_is_signed_out_and_the_owner_is_not(bigcommerce):
    bigcommerce.panel("install")
    owner, staff = open_app_as(bigcommerce, "owner"), open_app_as(bigcommerce, "staff")
    settings = f"{bigcommerce.host_url}/settings/connect"
    assert staff.get(settings, timeout=30).status_code == 200

    assert bigcommerce.panel("remove_user", user="staff")["status"] == 204

    assert staff.get(settings, timeout=30).status_code == 401
    assert owner.get(settings, timeout=30).status_code == 200
