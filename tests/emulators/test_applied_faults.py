"""Applied faults: a write is carried out, then answered with a 5xx or a dropped connection."""

from __future__ import annotations

import pytest
import requests

from emulators.bigcommerce import StoreSpec
from emulators.bigcommerce import create_app as create_bigcommerce
from emulators.common import DroppedConnection, FaultInjector, start_server
from emulators.engagement_cloud import create_app
from emulators.engagement_cloud.testing import ApiCaller, basic_auth

from .bigcommerce_support import STORE, TOKEN

USER, PASSWORD = "apiuser-faults@apiconnector.com", "faults-pw"
ACCOUNT = {"api_user": USER, "password": PASSWORD, "address_books": ["Customers"]}


class Remote:
    """One Engagement Cloud account over a real loopback socket."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.auth = basic_auth(USER, PASSWORD)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}{path}", headers=self.auth, timeout=5, **kwargs)

    def faults(self, **settings) -> dict:
        response = requests.post(f"{self.url}/_emulator/faults", json=settings, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def injected(self) -> dict:
        return requests.get(f"{self.url}/_emulator/faults", timeout=5).json()["injected"]

    def account_state(self) -> dict:
        return requests.get(f"{self.url}/_emulator/state", timeout=5).json()["accounts"][0]

    def enrolments(self) -> list[dict]:
        rows = []
        for status in ("Processing", "Finished"):
            answer = self.call("GET", f"/v2/programs/enrolments/{status}")
            assert answer.status_code == 200
            rows += answer.json()
        return rows


@pytest.fixture
def remote():
    with start_server(create_app([ACCOUNT], processing_delay=0)) as server:
        yield Remote(f"{server.url}/r1")


def enrolment_body(remote: Remote) -> dict:
    contact = remote.call("PATCH", "/contacts/v3/email/enrol@example.com", json={})
    assert contact.status_code in (200, 201)
    program = next(p for p in remote.call("GET", "/v2/programs").json() if p["status"] == "Active")
    return {"programId": program["id"], "contacts": [contact.json()["contactId"]]}


def contact_entry(email: str) -> dict:
    return {"matchIdentifier": "email", "identifiers": {"email": email}}


def test_enrolment_applied_then_5xx_still_exists(remote):
    body = enrolment_body(remote)
    remote.faults(pending_applied_errors=1, error_statuses=[502])
    answer = remote.call("POST", "/v2/programs/enrolments", json=body)
    assert answer.status_code == 502
    assert answer.json() == {"message": "An error has occurred. ERROR_UNKNOWN"}
    enrolments = remote.enrolments()
    assert len(enrolments) == 1
    assert enrolments[0]["programId"] == body["programId"]
    assert enrolments[0]["contacts"] == body["contacts"]
    assert remote.injected() == {"applied_error": 1}
    # one-shot: the next enrolment is answered normally (and is a second enrolment)
    assert remote.call("POST", "/v2/programs/enrolments", json=body).status_code == 201
    assert len(remote.enrolments()) == 2


def test_enrolment_applied_then_dropped_still_exists(remote):
    body = enrolment_body(remote)
    remote.faults(pending_applied_drops=1)
    with pytest.raises(requests.ConnectionError):
        remote.call("POST", "/v2/programs/enrolments", json=body)
    enrolments = remote.enrolments()
    assert len(enrolments) == 1 and enrolments[0]["contacts"] == body["contacts"]
    assert remote.injected() == {"applied_drop": 1}
    assert remote.faults()["settings"]["pending_applied_drops"] == 0
    # the server is still healthy after the dropped socket
    assert remote.call("GET", "/v2/programs/enrolments/Finished").status_code == 200


def test_contact_import_applied_then_5xx_leaves_the_job_and_the_contacts(remote):
    remote.faults(pending_applied_errors=1, error_statuses=[500])
    emails = ["i1@example.com", "i2@example.com"]
    answer = remote.call(
        "PUT", "/contacts/v3/import", json={"contacts": [contact_entry(e) for e in emails]}
    )
    assert answer.status_code == 500
    assert answer.json()["errorCode"] == "contacts:internalServerError"
    jobs = remote.account_state()["imports"]
    assert [(j["kind"], j["status"]) for j in jobs] == [("contacts", "Finished")]
    status = remote.call("GET", f"/contacts/v3/import/{jobs[0]['id']}").json()
    assert status["status"] == "Finished"
    for email in emails:
        assert remote.call("GET", f"/contacts/v3/email/{email}").status_code == 200


def test_insight_import_applied_then_dropped_leaves_the_job(remote):
    remote.call("PUT", "/contacts/v3/import", json={"contacts": [contact_entry("b@example.com")]})
    remote.faults(pending_applied_drops=1)
    body = {
        "collectionName": "Orders",
        "collectionScope": "contact",
        "collectionType": "orders",
        "records": [
            {
                "key": "1001",
                "contactIdentity": {"identifier": "email", "value": "b@example.com"},
                "json": {"orderTotal": 9.5},
            }
        ],
    }
    with pytest.raises(requests.ConnectionError):
        remote.call("PUT", "/insightData/v3/import", json=body)
    jobs = [j for j in remote.account_state()["imports"] if j["kind"] == "insight"]
    assert [j["status"] for j in jobs] == ["Finished"]
    assert [r["key"] for r in remote.account_state()["insight"]["Orders"]] == ["1001"]


def test_contact_upsert_applied_then_faulted_exists(remote):
    method = "PATCH"  # the emulator's only single-contact v3 upsert
    remote.faults(pending_applied_errors=1, pending_applied_drops=1, error_statuses=[503])
    path = "/contacts/v3/email/up@example.com"
    with pytest.raises(requests.ConnectionError):  # drops are taken first
        remote.call(method, path, json={"dataFields": {"FIRSTNAME": "Ann"}})
    assert remote.call(method, path, json={}).status_code == 503
    assert remote.call("GET", path).status_code == 200
    assert [c["email"] for c in remote.account_state()["contacts"]] == ["up@example.com"]
    assert remote.injected() == {"applied_drop": 1, "applied_error": 1}


def test_reads_are_never_affected(remote):
    remote.faults(applied_error_rate=1.0, applied_drop_rate=1.0)
    for path in ("/v2/programs", "/v2/address-books", "/contacts/v3", "/v2/account-info"):
        assert remote.call("GET", path).status_code == 200, path
    assert remote.injected() == {}
    # ...while every accepted write is (drop rate is checked before error rate)
    with pytest.raises(requests.ConnectionError):
        remote.call("PATCH", "/contacts/v3/email/w@example.com", json={})
    remote.faults(applied_drop_rate=0.0)
    assert remote.call("PATCH", "/contacts/v3/email/w@example.com", json={}).status_code >= 500


def test_refused_writes_keep_their_answer_and_the_one_shot(remote):
    body = enrolment_body(remote)
    remote.faults(pending_applied_errors=1)
    refused = remote.call("POST", "/v2/programs/enrolments", json=body | {"contacts": [999999]})
    assert refused.status_code == 400
    assert refused.json() == {"message": "Error: ERROR_CONTACT_NOT_FOUND"}
    assert remote.faults()["settings"]["pending_applied_errors"] == 1
    assert remote.call("POST", "/v2/programs/enrolments", json=body).status_code >= 500
    assert len(remote.enrolments()) == 1


def test_only_paths_restricts_applied_faults(remote):
    body = enrolment_body(remote)
    remote.faults(applied_error_rate=1.0, only_paths=["/v2/programs/enrolments"])
    assert remote.call("PATCH", "/contacts/v3/email/free@example.com", json={}).status_code in (
        200,
        201,
    )
    imported = remote.call(
        "PUT", "/contacts/v3/import", json={"contacts": [contact_entry("f@example.com")]}
    )
    assert imported.status_code == 202
    assert remote.call("POST", "/v2/programs/enrolments", json=body).status_code >= 500
    assert remote.injected() == {"applied_error": 1}
    assert len(remote.enrolments()) == 1


def test_applied_faults_follow_the_seed():
    def picks(seed: int) -> list[str | None]:
        injector = FaultInjector()
        injector.configure(applied_error_rate=0.5, seed=seed)
        return [injector.decide_applied("POST", "/v2/x")[0] for _ in range(40)]

    assert picks(3) == picks(3)
    assert set(picks(3)) == {None, "applied_error"}


def test_test_client_drop_raises_dropped_connection_and_keeps_the_write():
    app = create_app([ACCOUNT], processing_delay=0)
    api = ApiCaller(app, USER, PASSWORD)
    api.control("POST", "/faults", json={"pending_applied_drops": 1})
    with pytest.raises(DroppedConnection):
        api.patch("/contacts/v3/email/tc@example.com", json={})
    assert api.get("/contacts/v3/email/tc@example.com").status_code == 200
    # the before-request drop raises the same way (nothing applied)
    api.control("POST", "/faults", json={"drop_rate": 1.0})
    with pytest.raises(DroppedConnection):
        api.patch("/contacts/v3/email/never@example.com", json={})
    api.control("POST", "/faults", json={"reset": True})
    assert api.get("/contacts/v3/email/never@example.com").status_code == 404
    assert api.control("GET", "/faults").get_json()["injected"] == {}


def test_bigcommerce_hook_created_then_5xx():
    app = create_bigcommerce([StoreSpec(customers=2, subscribers=1, orders=1, products=1)])
    with start_server(app) as server:
        requests.post(
            f"{server.url}/_emulator/faults",
            json={"pending_applied_errors": 1, "error_statuses": [503]},
            timeout=5,
        )
        body = {"scope": "store/customer/*", "destination": "https://hooks.example.com/bc"}
        hooks = f"{server.url}/stores/{STORE}/v3/hooks"
        created = requests.post(hooks, json=body, headers=TOKEN, timeout=5)
        assert created.status_code == 503 and created.json()["status"] == 503
        listed = requests.get(hooks, headers=TOKEN, timeout=5).json()["data"]
        assert [h["destination"] for h in listed] == [body["destination"]]
