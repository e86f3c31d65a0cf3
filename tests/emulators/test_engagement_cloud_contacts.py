"""Engagement Cloud emulator: contacts, double opt-in, asynchronous imports, Insight data."""

from __future__ import annotations

import pytest

from emulators.engagement_cloud import create_app
from emulators.engagement_cloud.testing import ApiCaller

USER, PASSWORD = "apiuser-1@apiconnector.com", "pw-1"
CONSENT = {
    "text": "Yes please",
    "dateTimeConsented": "2024-01-26T21:29:00Z",
    "url": "https://shop.example.com/signup",
    "ipAddress": "129.168.0.2",
    "userAgent": "Mozilla/5.0",
}


def make_api(delay: float = 0, **account) -> ApiCaller:
    app = create_app(
        [
            {"api_user": USER, "password": PASSWORD, "address_books": ["Customers", "Subscribers"]}
            | account
        ],
        processing_delay=delay,
    )
    return ApiCaller(app, USER, PASSWORD)


def contact_entry(email: str, **extra) -> dict:
    return {"matchIdentifier": "email", "identifiers": {"email": email}} | extra


def import_contacts(api: ApiCaller, contacts: list[dict], **body) -> dict:
    response = api.put("/contacts/v3/import", json={"contacts": contacts} | body)
    assert response.status_code == 202, response.get_json()
    return api.get(f"/contacts/v3/import/{response.get_json()['importId']}").get_json()


def account_state(api: ApiCaller) -> dict:
    return api.state()["accounts"][0]


def book_members(api: ApiCaller, name: str) -> list[int]:
    return next(b["contacts"] for b in account_state(api)["address_books"] if b["name"] == name)


@pytest.fixture
def api() -> ApiCaller:
    return make_api()


def test_bulk_import_is_asynchronous_and_finishes_with_the_clock():
    api = make_api(delay=30)
    accepted = api.put("/contacts/v3/import", json={"contacts": [contact_entry("a@example.com")]})
    import_id = accepted.get_json()["importId"]
    assert api.get(f"/contacts/v3/import/{import_id}").get_json() == {
        "importId": import_id,
        "status": "NotFinished",
    }
    assert account_state(api)["contacts"] == []
    api.control("POST", "/clock", json={"advance": 31})
    status = api.get(f"/contacts/v3/import/{import_id}").get_json()
    assert status["status"] == "Finished"
    assert status["created"][0]["identifiers"] == {"email": "a@example.com"}
    assert [c["email"] for c in account_state(api)["contacts"]] == ["a@example.com"]


def test_reimport_merges_by_email_without_duplicates(api):
    # The identical consent record sent again is kept once only when the service deduplicates
    # (the ``appended`` reading keeps both: test_engagement_cloud_modes).
    api.control("PATCH", "/modes", json={"consent_records": "deduplicated"})
    books = {b["name"]: b["id"] for b in account_state(api)["address_books"]}
    first = import_contacts(
        api,
        [
            contact_entry(
                "Jane@Example.com",
                dataFields={"FIRSTNAME": "Jane", "lastName": "Doe"},
                lists=[books["Customers"]],
                consentRecords=[CONSENT],
                channelProperties={"email": {"optInType": "single", "emailType": "html"}},
            )
        ],
    )
    second = import_contacts(
        api,
        [
            contact_entry(
                "jane@example.com",
                dataFields={"LASTNAME": "Smith", "POSTCODE": "LS1 1AA"},
                lists=[books["Customers"]],
                consentRecords=[CONSENT],
            )
        ],
    )
    assert first["summary"]["newContacts"] == 1 and second["summary"]["updatedContacts"] == 1
    assert second["updated"][0]["contactId"] == first["created"][0]["contactId"]
    [contact] = account_state(api)["contacts"]
    assert contact["dataFields"] | {"LASTSUBSCRIBED": None} == {
        "FIRSTNAME": "Jane",
        "LASTNAME": "Smith",
        "POSTCODE": "LS1 1AA",
        "LASTSUBSCRIBED": None,
    }
    assert len(contact["consentRecords"]) == 1 and contact["optInType"] == "Single"
    assert book_members(api, "Customers") == [contact["id"]]


def test_merge_options_and_null_clears(api):
    import_contacts(
        api, [contact_entry("m@example.com", dataFields={"FIRSTNAME": "Ann", "GENDER": "f"})]
    )
    import_contacts(
        api,
        [contact_entry("m@example.com", dataFields={"FIRSTNAME": "", "LASTNAME": "Lee"})],
        mergeOption="overwriteIfNotEmpty",
    )
    import_contacts(
        api,
        [contact_entry("m@example.com", dataFields={"LASTNAME": "X", "POSTCODE": "N1"})],
        mergeOption="overwriteIfEmpty",
    )
    api.patch("/contacts/v3/email/m@example.com", json={"dataFields": {"GENDER": None}})
    fields = account_state(api)["contacts"][0]["dataFields"]
    assert (fields["FIRSTNAME"], fields["LASTNAME"], fields["POSTCODE"]) == ("Ann", "Lee", "N1")
    assert "GENDER" not in fields


def test_per_record_failures_are_reported(api):
    status = import_contacts(
        api,
        [
            contact_entry("ok@example.com"),
            contact_entry("ok@example.com"),
            contact_entry("not-an-email"),
            contact_entry("field@example.com", dataFields={"NO_SUCH_FIELD": 1}),
            contact_entry("list@example.com", lists=[999]),
            {"matchIdentifier": "email", "identifiers": {"mobileNumber": "447700900000"}},
            contact_entry("consent@example.com", consentRecords=[{"text": "only text"}]),
        ],
    )
    codes = {
        f["identifiers"].get("email", "-"): f["failures"][0]["failureCode"]
        for f in status["failures"]
    }
    assert codes == {
        "ok@example.com": "duplicateIdentifier",
        "not-an-email": "invalidEmail",
        "field@example.com": "dataFieldNotFound",
        "list@example.com": "invalidAddressBookIds",
        "-": "invalidMatchIdentifier",
        "consent@example.com": "consentRecordsNotApplied",
    }
    assert status["summary"] == {
        "newContacts": 2,
        "updatedContacts": 0,
        "globallySuppressed": 0,
        "invalidEntries": 4,
        "duplicateIdentifiers": 1,
    }
    assert sorted(c["email"] for c in account_state(api)["contacts"]) == [
        "consent@example.com",
        "ok@example.com",
    ]


def test_verified_double_opt_in_waits_for_confirmation(api):
    books = {b["name"]: b["id"] for b in account_state(api)["address_books"]}
    created = api.patch(
        "/contacts/v3/email/doi@example.com",
        json={
            "lists": [books["Subscribers"]],
            "channelProperties": {"email": {"optInType": "verifiedDouble"}},
        },
    )
    assert created.status_code == 201
    email = created.get_json()["channelProperties"]["email"]
    assert (email["status"], email["optInType"]) == ("pendingOptIn", "VerifiedDouble")
    assert api.get("/v2/contacts/doi@example.com").get_json()["status"] == "PendingOptIn"
    assert book_members(api, "Subscribers") == []
    sent = api.control("GET", f"/accounts/{USER}/confirmation-emails").get_json()
    assert [(m["to"], m["reason"]) for m in sent] == [("doi@example.com", "verifiedDouble")]
    confirmed = api.control("POST", f"/accounts/{USER}/contacts/doi@example.com/confirm-opt-in")
    assert confirmed.get_json()["status"] == "subscribed"
    assert book_members(api, "Subscribers") == [created.get_json()["contactId"]]
    again = api.control("POST", f"/accounts/{USER}/contacts/doi@example.com/confirm-opt-in")
    assert again.status_code == 409


def test_double_only_records_an_opt_in_obtained_elsewhere(api):
    book_id = account_state(api)["address_books"][1]["id"]
    status = import_contacts(
        api,
        [
            contact_entry(
                "d@example.com",
                lists=[book_id],
                channelProperties={"email": {"optInType": "double"}},
            )
        ],
    )
    contact_id = status["created"][0]["contactId"]
    [contact] = account_state(api)["contacts"]
    assert (contact["status"], contact["optInType"]) == ("subscribed", "Double")
    assert book_members(api, "Subscribers") == [contact_id]
    assert account_state(api)["confirmation_emails"] == []


def test_account_setting_makes_every_new_contact_pending():
    api = make_api(enforce_double_opt_in=True)
    book_id = account_state(api)["address_books"][0]["id"]
    import_contacts(api, [contact_entry("bulk@example.com", lists=[book_id])])
    added = api.post(
        f"/v2/address-books/{book_id}/contacts",
        json={"Email": "single@example.com", "OptInType": "Single"},
    )
    assert added.status_code == 200 and added.get_json()["status"] == "PendingOptIn"
    statuses = {c["email"]: c["status"] for c in account_state(api)["contacts"]}
    assert statuses == {"bulk@example.com": "pendingOptIn", "single@example.com": "pendingOptIn"}
    assert book_members(api, "Customers") == []


def test_v2_address_book_membership_and_paging(api):
    book_id = account_state(api)["address_books"][0]["id"]
    ids = [
        api.post(
            f"/v2/address-books/{book_id}/contacts", json={"email": f"p{i}@example.com"}
        ).get_json()["id"]
        for i in range(5)
    ]
    pages = [
        api.get(f"/v2/address-books/{book_id}/contacts?select=2&skip={skip}").get_json()
        for skip in (0, 2, 4, 6)
    ]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert [c["id"] for page in pages for c in page] == ids
    assert pages[0][0]["dataFields"] is None
    assert api.delete(f"/v2/address-books/{book_id}/contacts/{ids[0]}").status_code == 204
    assert api.get(f"/v2/address-books/{book_id}").get_json()["contacts"] == 4
    bad = api.get("/v2/address-books?select=0")
    assert bad.status_code == 400 and bad.get_json()["message"].endswith("ERROR_PARAMETER_INVALID")


def test_v3_query_pages_end_without_a_next_link(api):
    import_contacts(api, [contact_entry(f"q{i}@example.com") for i in range(5)])
    seen, marker = [], None
    while True:
        page = api.get(
            "/contacts/v3", query_string={"limit": 2, **({"marker": marker} if marker else {})}
        ).get_json()
        seen += [c["identifiers"]["email"] for c in page["_items"]]
        if "next" not in page["_links"]:
            break
        marker = page["_links"]["next"]["marker"]
    assert seen == [f"q{i}@example.com" for i in range(5)]


def test_data_fields_create_and_refusals(api):
    assert (
        api.post("/v2/data-fields", json={"name": "LOYALTY", "type": "Numeric"}).status_code == 201
    )
    duplicate = api.post("/v2/data-fields", json={"name": "loyalty", "type": "String"})
    assert duplicate.get_json() == {"message": "Field already exists. ERROR_NON_UNIQUE_DATAFIELD"}
    invalid = api.post("/v2/data-fields", json={"name": "has space", "type": "String"})
    assert invalid.status_code == 400 and "ERROR_DATAFIELD_INVALID" in invalid.get_json()["message"]
    import_contacts(api, [contact_entry("l@example.com", dataFields={"loyalty": 3})])
    assert account_state(api)["contacts"][0]["dataFields"]["LOYALTY"] == 3


def orders_import(records: list[dict]) -> dict:
    return {
        "collectionName": "Orders",
        "collectionScope": "contact",
        "collectionType": "orders",
        "records": records,
    }


def order(key: str, email: str, total: float) -> dict:
    return {
        "key": key,
        "contactIdentity": {"identifier": "email", "value": email},
        "json": {"orderTotal": total, "currency": "GBP", "products": [{"sku": "A"}]},
    }


def insight_status(api: ApiCaller, body: dict) -> dict:
    response = api.put("/insightData/v3/import", json=body)
    assert response.status_code == 202, response.get_json()
    return api.get(f"/insightData/v3/import/{response.get_json()['importId']}").get_json()


def test_insight_orders_replace_by_key_and_link_by_email(api):
    import_contacts(api, [contact_entry("buyer@example.com")])
    insight_status(api, orders_import([order("1001", "buyer@example.com", 10.0)]))
    status = insight_status(
        api,
        orders_import(
            [order("1001", "buyer@example.com", 12.5), order("1002", "ghost@example.com", 1.0)]
        ),
    )
    assert status["failures"][0]["failureReason"] == "ContactEmailDoesNotExist"
    [record] = account_state(api)["insight"]["Orders"]
    assert record["key"] == "1001" and record["json"]["orderTotal"] == 12.5
    assert record["contactIdentity"] == {"identifier": "email", "value": "buyer@example.com"}


def test_catalog_is_account_scoped_and_feature_flags_refuse(api):
    catalog = {
        "collectionName": "Catalog_Default",
        "collectionScope": "account",
        "collectionType": "catalog",
        "records": [{"key": "7", "json": {"name": "Hat"}}],
    }
    assert insight_status(api, catalog)["status"] == "Finished"
    assert account_state(api)["insight"]["Catalog_Default"] == [
        {"key": "7", "json": {"name": "Hat"}}
    ]
    api.control("PATCH", f"/accounts/{USER}", json={"features": {"account_insight": False}})
    refused = api.put("/insightData/v3/import", json=catalog)
    assert refused.status_code == 403
    assert refused.get_json()["errorCode"] == "insightData:featureNotActive"
    assert "ERROR_FEATURENOTACTIVE" in refused.get_json()["description"]
    import_contacts(api, [contact_entry("buyer@example.com")])
    ok = api.put(
        "/insightData/v3/import", json=orders_import([order("1", "buyer@example.com", 1.0)])
    )
    assert ok.status_code == 202
    api.control("PATCH", f"/accounts/{USER}", json={"features": {"insight_data": False}})
    assert (
        api.put(
            "/insightData/v3/import", json=orders_import([order("2", "buyer@example.com", 1.0)])
        ).status_code
        == 403
    )


def test_stuck_import_stays_in_progress_until_released():
    api = make_api(delay=1)
    api.control("POST", "/stuck-imports", json={"count": 1})
    stuck = api.put("/contacts/v3/import", json={"contacts": [contact_entry("s@example.com")]})
    normal = api.put("/contacts/v3/import", json={"contacts": [contact_entry("n@example.com")]})
    api.control("POST", "/clock", json={"advance": 3600})
    stuck_id, normal_id = stuck.get_json()["importId"], normal.get_json()["importId"]
    assert api.get(f"/contacts/v3/import/{stuck_id}").get_json()["status"] == "NotFinished"
    assert api.get(f"/contacts/v3/import/{normal_id}").get_json()["status"] == "Finished"
    api.control("POST", f"/imports/{stuck_id}/release")
    assert api.get(f"/contacts/v3/import/{stuck_id}").get_json()["status"] == "Finished"


def test_twenty_thousand_contacts_in_batches(api):
    book_id = account_state(api)["address_books"][0]["id"]
    for batch in range(20):
        contacts = [
            contact_entry(
                f"c{batch}-{i}@example.com",
                lists=[book_id],
                dataFields={"FIRSTNAME": f"N{i}"},
                consentRecords=[CONSENT],
                channelProperties={"email": {"optInType": "single"}},
            )
            for i in range(1000)
        ]
        status = import_contacts(api, contacts)
        assert status["summary"]["newContacts"] == 1000
    summary = api.control("GET", "/state?summary=1").get_json()["accounts"][0]
    assert summary["contacts"] == 20000
    assert len(book_members(api, "Customers")) == 20000
