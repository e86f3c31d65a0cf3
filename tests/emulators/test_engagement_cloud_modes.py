"""Engagement Cloud emulator modes (``emulators.engagement_cloud.modes``): each UNCONFIRMED
reading the connector depends on, played either way.

- ``consent_records``: ``appended`` keeps every consent record a write carries, an exact repeat
  included; ``deduplicated`` drops a record equal to one the contact holds.
- ``data_field_types``: ``enforced`` refuses a contact whose value does not fit its data field's
  type (in an import that contact alone fails, with the reason; a PATCH answers 400);
  ``lenient`` stores the value as sent.
"""

from __future__ import annotations

import pytest

from emulators.engagement_cloud import create_app
from emulators.engagement_cloud.testing import ApiCaller

USER, PASSWORD = "apiuser-modes@apiconnector.com", "pw-modes"
CONSENT = {
    "text": "Yes please",
    "dateTimeConsented": "2024-01-26T21:29:00Z",
    "url": "https://shop.example.com/signup",
    "ipAddress": "129.168.0.2",
    "userAgent": "Mozilla/5.0",
}
FIELDS = [
    {"name": "BIRTHDAY", "type": "Date"},
    {"name": "ORDERS", "type": "Numeric"},
    {"name": "VIP", "type": "Boolean"},
    {"name": "NOTE", "type": "String"},
]
# (field, a value that fits, values that do not)
TYPES = [
    ("BIRTHDAY", "2024-05-01T09:30:00Z", ["01/05/2024", "yesterday", "24-05-01", "2024-13-01", 20240501]),
    ("ORDERS", 12.5, ["12", "twelve", True]),
    ("VIP", True, ["true", "yes", 1]),
    ("NOTE", "x" * 255, ["x" * 256, {"a": 1}]),
]


def make_api(**modes) -> ApiCaller:
    app = create_app(
        [{"api_user": USER, "password": PASSWORD, "address_books": ["Subscribers"], "data_fields": FIELDS}],
        processing_delay=0,
        modes=modes,
    )
    return ApiCaller(app, USER, PASSWORD)


def import_contacts(api: ApiCaller, contacts: list[dict]) -> dict:
    response = api.put("/contacts/v3/import", json={"mergeOption": "overwrite", "contacts": contacts})
    assert response.status_code == 202, response.get_json()
    return api.get(f"/contacts/v3/import/{response.get_json()['importId']}").get_json()


def entry(email: str, **extra) -> dict:
    return {"matchIdentifier": "email", "identifiers": {"email": email}} | extra


def contact(api: ApiCaller, email: str) -> dict:
    return next(c for c in api.state()["accounts"][0]["contacts"] if c["email"] == email)


def test_the_default_modes_are_the_strict_readings(monkeypatch):
    monkeypatch.delenv("ENGAGEMENT_CLOUD_EMULATOR_MODES", raising=False)
    modes = make_api().control("GET", "/modes").get_json()
    assert modes["consent_records"]["value"] == "appended"
    assert modes["data_field_types"]["value"] == "enforced"


# ------------------------------------------------------------------ consent_records
@pytest.mark.parametrize("mode, kept", [("appended", 3), ("deduplicated", 2)])
def test_consent_records_sent_again_are_appended_or_dropped_by_mode(mode, kept):
    api = make_api(consent_records=mode)
    import_contacts(api, [entry("ann@example.com", consentRecords=[CONSENT])])
    # The same record again, by import and by PATCH, then a new consent (another time).
    import_contacts(api, [entry("ann@example.com", consentRecords=[CONSENT])])
    later = CONSENT | {"dateTimeConsented": "2025-02-01T10:00:00Z"}
    answer = api.patch("/contacts/v3/email/ann@example.com", json={"consentRecords": [later]})
    assert answer.status_code == 200
    records = contact(api, "ann@example.com")["consentRecords"]
    assert len(records) == kept
    assert records[-1]["dateTimeConsented"] == "2025-02-01T10:00:00Z"  # a new consent is always kept


def test_consent_mode_changed_at_run_time_applies_to_the_next_write():
    api = make_api(consent_records="deduplicated")
    import_contacts(api, [entry("bo@example.com", consentRecords=[CONSENT])])
    import_contacts(api, [entry("bo@example.com", consentRecords=[CONSENT])])
    assert len(contact(api, "bo@example.com")["consentRecords"]) == 1
    assert api.control("PATCH", "/modes", json={"consent_records": "appended"}).status_code == 200
    import_contacts(api, [entry("bo@example.com", consentRecords=[CONSENT])])
    assert len(contact(api, "bo@example.com")["consentRecords"]) == 2


# ------------------------------------------------------------------ data_field_types
@pytest.mark.parametrize("name, good, bad", TYPES, ids=[t[0] for t in TYPES])
def test_enforced_import_refuses_only_the_contact_whose_value_does_not_fit(name, good, bad):
    api = make_api(data_field_types="enforced")
    contacts = [entry("good@example.com", dataFields={name: good, "FIRSTNAME": "Good"})]
    contacts += [entry(f"bad{i}@example.com", dataFields={name: value, "FIRSTNAME": "Bad"})
                 for i, value in enumerate(bad)]
    status = import_contacts(api, contacts)
    assert status["status"] == "Finished"
    assert [c["identifiers"]["email"] for c in status["created"]] == ["good@example.com"]
    assert status["summary"]["newContacts"] == 1 and status["summary"]["invalidEntries"] == len(bad)
    for failure in status["failures"]:
        (reason,) = failure["failures"]
        assert reason["failureCode"] == "apiSchemaViolation"
        assert f"'{name}'" in reason["description"]
    emails = {c["email"] for c in api.state()["accounts"][0]["contacts"]}
    assert emails == {"good@example.com"}  # a refused contact is not created half-way
    assert contact(api, "good@example.com")["dataFields"][name] == good


@pytest.mark.parametrize("name, good, bad", TYPES, ids=[t[0] for t in TYPES])
def test_enforced_patch_refuses_a_value_that_does_not_fit_and_changes_nothing(name, good, bad):
    api = make_api(data_field_types="enforced")
    assert api.patch("/contacts/v3/email/cy@example.com", json={"dataFields": {name: good}}).status_code == 201
    answer = api.patch("/contacts/v3/email/cy@example.com", json={"dataFields": {name: bad[0], "FIRSTNAME": "Cy"}})
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["errorCode"] == "contacts:apiSchemaViolation" and f"'{name}'" in body["description"]
    stored = contact(api, "cy@example.com")["dataFields"]
    assert stored[name] == good and "FIRSTNAME" not in stored
    # null still clears, whatever the type
    assert api.patch("/contacts/v3/email/cy@example.com", json={"dataFields": {name: None}}).status_code == 200
    assert name not in contact(api, "cy@example.com")["dataFields"]


def test_enforced_v2_write_refuses_a_value_that_does_not_fit():
    api = make_api(data_field_types="enforced")
    answer = api.post("/v2/contacts", json={"email": "di@example.com",
                                            "dataFields": [{"key": "ORDERS", "value": "many"}]})
    assert answer.status_code == 400 and "ERROR_PARAMETER_INVALID" in answer.get_json()["message"]
    assert all(c["email"] != "di@example.com" for c in api.state()["accounts"][0]["contacts"])


@pytest.mark.parametrize("name, good, bad", TYPES, ids=[t[0] for t in TYPES])
def test_lenient_stores_every_value_as_sent(name, good, bad):
    api = make_api(data_field_types="lenient")
    contacts = [entry(f"c{i}@example.com", dataFields={name: value}) for i, value in enumerate([good, *bad])]
    status = import_contacts(api, contacts)
    assert status["summary"]["newContacts"] == 1 + len(bad) and status["failures"] == []
    for i, value in enumerate([good, *bad]):
        assert contact(api, f"c{i}@example.com")["dataFields"][name] == value
