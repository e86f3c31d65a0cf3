"""Engagement Cloud emulator at bulk sizes: 50 MB bodies, big imports, quick polls and paging."""

from __future__ import annotations

import json
import time

from emulators.engagement_cloud import create_app
from emulators.engagement_cloud.app import MAX_BODY_BYTES
from emulators.engagement_cloud.testing import ApiCaller

USER, PASSWORD = "apiuser-bulk@apiconnector.com", "pw"


def make_api(**modes) -> ApiCaller:
    app = create_app([{"api_user": USER, "password": PASSWORD, "address_books": ["Customers"],
                       "data_fields": [{"name": "NOTE"}]}], processing_delay=0, modes=modes)
    return ApiCaller(app, USER, PASSWORD)


def entry(email: str, **extra) -> dict:
    return {"matchIdentifier": "email", "identifiers": {"email": email}} | extra


def body_of(size: int) -> bytes:
    """An import body of exactly ``size`` bytes: one contact with a long data field."""
    head = json.dumps({"contacts": [entry("big@example.com", dataFields={"NOTE": ""})]}).encode()
    filler = size - len(head)
    return head.replace(b'"NOTE": ""', b'"NOTE": "' + b"x" * filler + b'"')


def test_a_body_of_50_mb_is_accepted_and_a_bigger_one_refused_with_413():
    # One String value of ~50 MB: past the 255 characters a String field takes (``enforced``).
    api = make_api(data_field_types="lenient")
    fits = body_of(MAX_BODY_BYTES)
    assert len(fits) == MAX_BODY_BYTES
    accepted = api.put("/contacts/v3/import", data=fits, headers={"Content-Type": "application/json"})
    assert accepted.status_code == 202, accepted.get_json()
    status = api.get(f"/contacts/v3/import/{accepted.get_json()['importId']}").get_json()
    assert status["status"] == "Finished" and status["summary"]["newContacts"] == 1
    too_big = body_of(MAX_BODY_BYTES + 1)
    refused = api.put("/contacts/v3/import", data=too_big, headers={"Content-Type": "application/json"})
    assert refused.status_code == 413
    assert refused.get_json()["errorCode"] == "contacts:requestTooLarge"
    refused = api.put("/insightData/v3/import", data=too_big, headers={"Content-Type": "application/json"})
    assert refused.status_code == 413 and refused.get_json()["errorCode"] == "insightData:requestTooLarge"


def test_a_20000_contact_import_is_applied_once_and_its_report_polled_cheaply():
    api = make_api()
    book = api.get("/v2/address-books").get_json()[0]["id"]
    contacts = [entry(f"shopper{i}@example.com", lists=[book], dataFields={"FIRSTNAME": f"Zoë {i}"},
                      identifiers={"email": f"shopper{i}@example.com", "mobileNumber": f"+4470000{i:05d}"})
                for i in range(20_000)]
    started = time.perf_counter()
    response = api.put("/contacts/v3/import", json={"contacts": contacts})
    assert response.status_code == 202
    path = f"/contacts/v3/import/{response.get_json()['importId']}"
    first = api.get(path)
    assert first.get_json()["summary"]["newContacts"] == 20_000
    assert len(first.get_json()["created"]) == 20_000
    polls = time.perf_counter()
    again = [api.get(path) for _ in range(20)]
    assert all(a.data == first.data for a in again)
    assert time.perf_counter() - polls < 2.0  # the finished report is encoded once
    assert time.perf_counter() - started < 60
    summary = api.control("GET", "/state?summary=1").get_json()["accounts"][0]
    assert summary["contacts"] == 20_000 and summary["contacts_by_status"] == {"subscribed": 20_000}
    state = api.state()["accounts"][0]
    assert len(state["contacts"]) == 20_000 and len(state["address_books"][0]["contacts"]) == 20_000
    # an update by mobile number finds the contact through the index
    moved = api.put("/contacts/v3/import", json={"contacts": [
        {"matchIdentifier": "mobileNumber", "identifiers": {"mobileNumber": "+447000012345"},
         "dataFields": {"FIRSTNAME": "Moved"}}]})
    report = api.get(f"/contacts/v3/import/{moved.get_json()['importId']}").get_json()
    assert report["summary"]["updatedContacts"] == 1
    assert report["updated"][0]["identifiers"]["email"] == "shopper12345@example.com"


def test_contact_pages_follow_the_marker_with_and_without_a_list():
    api = make_api()
    book = api.get("/v2/address-books").get_json()[0]["id"]
    contacts = [entry(f"p{i}@example.com", **({"lists": [book]} if i % 3 == 0 else {})) for i in range(250)]
    api.put("/contacts/v3/import", json={"contacts": contacts})
    api.get("/contacts/v3?limit=1")  # applies the import

    def walk(query: str) -> list[str]:
        emails, marker = [], 0
        while True:
            page = api.get(f"/contacts/v3?limit=40&marker={marker}{query}").get_json()
            emails += [c["identifiers"]["email"] for c in page["_items"]]
            if "next" not in page["_links"]:
                return emails
            marker = page["_links"]["next"]["marker"]

    assert walk("") == [f"p{i}@example.com" for i in range(250)]
    assert walk(f"&~listId={book}") == [f"p{i}@example.com" for i in range(0, 250, 3)]
    assert walk("&~listId=999") == []
