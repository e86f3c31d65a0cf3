"""The Engagement Cloud emulator's unsubscribes: made outside the API (the control endpoint) or
through it, from one book or the whole account, and read back since a moment."""

from __future__ import annotations

from emulators.engagement_cloud import create_app
from emulators.engagement_cloud.testing import basic_auth

USER, PASSWORD = "apiuser-unsub@apiconnector.com", "secret-1"
AUTH = basic_auth(USER, PASSWORD)


def _world():
    app = create_app([{"api_user": USER, "password": PASSWORD, "address_books": ["News", "Other"]}],
                     processing_delay=0)
    client = app.test_client()
    books = {b["name"]: b["id"] for b in client.get("/v2/address-books", headers=AUTH).get_json()}
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        for book in books.values():
            client.post(f"/v2/address-books/{book}/contacts", json={"email": email}, headers=AUTH)
    return client, books


def _since(client, path):
    answer = client.get(path, headers=AUTH)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [(item["suppressedContact"]["email"], item["reason"]) for item in answer.get_json()]


def test_a_book_unsubscribe_leaves_that_book_only_and_is_listed_for_it():
    client, books = _world()
    answer = client.post(f"/_emulator/accounts/{USER}/contacts/a@example.com/unsubscribe",
                         json={"address_book_id": books["News"]})
    assert answer.status_code == 200 and answer.get_json()["reason"] == "Unsubscribed"
    members = client.get(f"/v2/address-books/{books['News']}/contacts", headers=AUTH).get_json()
    assert "a@example.com" not in [m["email"] for m in members]
    others = client.get(f"/v2/address-books/{books['Other']}/contacts", headers=AUTH).get_json()
    assert "a@example.com" in [m["email"] for m in others]
    assert client.get("/v2/contacts/a@example.com", headers=AUTH).get_json()["status"] == "Subscribed"
    [shown] = client.get("/_emulator/state").get_json()["accounts"][0]["unsubscribes"]
    assert (shown["email"], shown["addressBookId"]) == ("a@example.com", books["News"])
    assert _since(client, f"/v2/address-books/{books['News']}/contacts/unsubscribed-since/2020-01-01") == [
        ("a@example.com", "Unsubscribed")]
    assert _since(client, f"/v2/address-books/{books['Other']}/contacts/unsubscribed-since/2020-01-01") == []
    assert _since(client, "/v2/contacts/unsubscribed-since/2020-01-01") == []


def test_account_unsubscribes_and_suppressions_are_listed_since_a_moment():
    client, _ = _world()
    client.post(f"/_emulator/accounts/{USER}/contacts/a@example.com/unsubscribe",
                json={"date_removed": "2024-01-01T10:00:00.000Z"})
    client.post(f"/_emulator/accounts/{USER}/contacts/b@example.com/unsubscribe", json={})
    client.post(f"/_emulator/accounts/{USER}/contacts/c@example.com/unsubscribe", json={"reason": "HardBounced"})
    assert client.get("/v2/contacts/b@example.com", headers=AUTH).get_json()["status"] == "Unsubscribed"
    assert _since(client, "/v2/contacts/unsubscribed-since/2023-12-31") == [
        ("a@example.com", "Unsubscribed"), ("b@example.com", "Unsubscribed")]
    assert _since(client, "/v2/contacts/unsubscribed-since/2024-01-01T10:00:00.001Z") == [
        ("b@example.com", "Unsubscribed")]
    assert _since(client, "/v2/contacts/suppressed-since/2024-06-01") == [
        ("b@example.com", "Unsubscribed"), ("c@example.com", "HardBounced")]
    assert _since(client, "/v2/contacts/suppressed-since/2020-01-01?select=1&skip=2") == [
        ("c@example.com", "HardBounced")]
    assert client.get("/v2/contacts/unsubscribed-since/yesterday", headers=AUTH).status_code == 400
    shown = client.get("/_emulator/state").get_json()["accounts"][0]["unsubscribes"]
    assert [(u["email"], u["reason"], u["addressBookId"]) for u in shown] == [
        ("a@example.com", "Unsubscribed", None), ("b@example.com", "Unsubscribed", None),
        ("c@example.com", "HardBounced", None)]
    assert shown[0]["dateRemoved"] == "2024-01-01T10:00:00.000Z"


def test_the_api_unsubscribes_a_contact_from_the_account():
    client, _ = _world()
    answer = client.post("/v2/contacts/unsubscribe", json={"email": "b@example.com"}, headers=AUTH)
    assert answer.status_code == 200
    assert answer.get_json()["suppressedContact"]["status"] == "Unsubscribed"
    assert client.post("/v2/contacts/unsubscribe", json={"email": "nobody@example.com"},
                       headers=AUTH).status_code == 404
