"""Engagement Cloud emulator: regions, auth, rate limits, faults, enrolments, state, CLI."""

from __future__ import annotations

import pytest
import requests

from emulators.common import start_server
from emulators.engagement_cloud import create_app
from emulators.engagement_cloud.cli import build_parser, seeds_from
from emulators.engagement_cloud.testing import ApiCaller, basic_auth

EU = {"api_user": "apiuser-eu@apiconnector.com", "password": "eu-pw"}
US = {"api_user": "apiuser-us@apiconnector.com", "password": "us-pw", "region": "r2"}


def endpoint_of(info: dict) -> str:
    return next(p["value"] for p in info["properties"] if p["name"] == "ApiEndpoint")


@pytest.fixture
def app():
    return create_app([EU, US], processing_delay=0)


def test_region_discovery_on_r1_then_wrong_region_is_forbidden(app):
    on_r1 = ApiCaller(app, US["api_user"], US["password"], region="r1")
    assert endpoint_of(on_r1.get("/v2/account-info").get_json()) == "http://localhost/r2"
    refused = on_r1.get("/v2/address-books")
    assert refused.status_code == 403
    assert refused.get_json() == {"message": "Forbidden: Access is denied"}
    on_r2 = ApiCaller(app, US["api_user"], US["password"], region="r2")
    assert on_r2.get("/v2/address-books").status_code == 200
    assert on_r2.get("//v2/data-fields").status_code == 200  # ApiEndpoint with a trailing "/"
    unprefixed = ApiCaller(app, EU["api_user"], EU["password"], region="")
    assert unprefixed.get("/v2/address-books").status_code == 200  # no prefix = r1


def test_trailing_slash_option_and_public_url():
    app = create_app([US], public_base_url="http://emulator:9000", endpoint_trailing_slash=True)
    info = ApiCaller(app, US["api_user"], US["password"]).get("/v2/account-info").get_json()
    assert endpoint_of(info) == "http://emulator:9000/r2/"


def test_bad_credentials_answer_401_with_the_documented_body(app):
    wrong = ApiCaller(app, EU["api_user"], "nope")
    for path in ("/v2/account-info", "/contacts/v3/import/x"):
        response = wrong.get(path)
        assert response.status_code == 401
        assert response.get_json() == {"message": "Authorization has been denied for this request."}
    assert app.test_client().get("/v2/programs").status_code == 401


def test_rate_limit_window_headers_and_reset():
    app = create_app([EU | {"rate_limit_per_minute": 3}])
    api = ApiCaller(app, EU["api_user"], EU["password"])
    remaining = [api.get("/v2/programs").headers["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    limited = api.put("/contacts/v3/import", json={"contacts": []})
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert 1 <= int(limited.headers["X-RateLimit-Reset"]) <= 60
    assert limited.headers["X-RateLimit-Scope"]
    assert limited.get_json()["errorCode"] == "contacts:tooManyRequests"
    assert api.get("/v2/programs").get_json()["message"].endswith("ERROR_APIUSAGE_EXCEEDED")
    api.control("POST", "/clock", json={"advance": 60})
    assert api.get("/v2/programs").status_code == 200


def test_injected_faults_use_the_service_shapes(app):
    api = ApiCaller(app, EU["api_user"], EU["password"])
    api.control("POST", "/faults", json={"pending_429": 2})
    burst = [api.get("/v2/data-fields") for _ in range(3)]
    assert [r.status_code for r in burst] == [429, 429, 200]
    assert "X-RateLimit-Reset" in burst[0].headers
    api.control("POST", "/faults", json={"error_rate": 1.0, "error_statuses": [503]})
    failed = api.get("/contacts/v3/email/a@example.com")
    assert failed.status_code == 503 and failed.get_json()["errorCode"].startswith("contacts:")
    assert api.get("/v2/data-fields").get_json() == {
        "message": "An error has occurred. ERROR_UNKNOWN"
    }
    counts = api.state()["requests"]
    assert counts["GET /v2/data-fields"] == 4
    assert counts["GET /contacts/v3/{identifier}/{value}"] == 1


def test_enrolments_are_not_idempotent_and_finish_later():
    app = create_app([EU | {"enrolments_per_hour": 3}], processing_delay=5)
    api = ApiCaller(app, EU["api_user"], EU["password"])
    contact_id = api.patch("/contacts/v3/email/e@example.com", json={}).get_json()["contactId"]
    program = next(p for p in api.get("/v2/programs").get_json() if p["status"] == "Active")
    body = {"programId": program["id"], "contacts": [contact_id], "addressBooks": []}
    first, second = (api.post("/v2/programs/enrolments", json=body).get_json() for _ in "12")
    assert first["id"] != second["id"]
    assert first["status"] == "Processing" and first["contacts"] == [contact_id]
    api.control("POST", "/clock", json={"advance": 5})
    assert api.get(f"/v2/programs/enrolments/{first['id']}").get_json()["status"] == "Finished"
    assert len(api.get("/v2/programs/enrolments/Finished").get_json()) == 2
    enrolments = api.state()["accounts"][0]["enrolments"]
    assert [(e["programId"], e["contacts"], e["status"]) for e in enrolments] == [
        (program["id"], [contact_id], "Finished")
    ] * 2
    api.post("/v2/programs/enrolments", json=body)
    capped = api.post("/v2/programs/enrolments", json=body)
    assert capped.get_json() == {"message": "Error: ERROR_ENROLMENT_ALLOWANCE_EXCEEDED"}
    account = api.state()["accounts"][0]  # the calls counted, when they were made: a refused one is not there
    assert account["enrolments_per_hour"] == 3
    assert [e["dateCreated"] for e in account["enrolments"]] == sorted(e["dateCreated"] for e in account["enrolments"])
    assert len(account["enrolments"]) == 3 and all(e["dateCreated"].endswith("Z") for e in account["enrolments"])
    api.control("POST", "/clock", json={"advance": 3600})
    assert api.post("/v2/programs/enrolments", json=body).status_code == 201


def test_enrolment_refusals(app):
    api = ApiCaller(app, EU["api_user"], EU["password"])
    programs = {p["status"]: p["id"] for p in api.get("/v2/programs").get_json()}
    contact_id = api.patch("/contacts/v3/email/e@example.com", json={}).get_json()["contactId"]
    for status in ("Deactivated", "Draft"):
        refused = api.post(
            "/v2/programs/enrolments",
            json={"programId": programs[status], "contacts": [contact_id]},
        )
        assert (refused.status_code, refused.get_json()) == (
            422,
            {"message": "Error: ERROR_PROGRAM_NOT_ACTIVE"},
        )
    empty = api.post("/v2/programs/enrolments", json={"programId": programs["Active"]})
    assert empty.get_json() == {"message": "Error: ERROR_ENROLMENT_INVALID"}
    api.control("PATCH", f"/accounts/{EU['api_user']}", json={"features": {"programs": False}})
    assert api.get("/v2/programs").status_code == 403


def test_state_shape_summary_and_reset(app):
    api = ApiCaller(app, EU["api_user"], EU["password"])
    book = api.post("/v2/address-books", json={"name": "Customers"}).get_json()
    api.put(
        "/contacts/v3/import",
        json={
            "contacts": [
                {
                    "matchIdentifier": "email",
                    "identifiers": {"email": "s@example.com"},
                    "lists": [book["id"]],
                    "dataFields": {"FIRSTNAME": "Sam"},
                }
            ]
        },
    )
    state = api.state()
    [account] = [a for a in state["accounts"] if a["api_user"] == EU["api_user"]]
    assert {
        "api_user",
        "region",
        "address_books",
        "contacts",
        "insight",
        "programs",
        "enrolments",
        "imports",
    } <= set(account)
    [contact] = account["contacts"]
    assert {
        k: contact[k] for k in ("email", "status", "optInType", "dataFields", "consentRecords")
    } == {
        "email": "s@example.com",
        "status": "subscribed",
        "optInType": "Unknown",
        "dataFields": contact["dataFields"] | {"FIRSTNAME": "Sam"},
        "consentRecords": [],
    }
    assert account["address_books"] == [
        {
            "id": book["id"],
            "name": "Customers",
            "visibility": "Private",
            "contacts": [contact["id"]],
        }
    ]
    assert state["requests"]["PUT /contacts/v3/import"] == 1
    summary = api.control("GET", "/state?summary=1").get_json()["accounts"][0]
    assert summary["contacts"] == 1 and summary["address_books"] == 1
    api.control("POST", "/reset")
    after = api.state()
    assert after["requests"] == {}
    assert all(a["contacts"] == [] and a["address_books"] == [] for a in after["accounts"])


def test_accounts_and_programs_can_be_seeded_over_http(app):
    client = app.test_client()
    created = client.post(
        "/_emulator/accounts",
        json={
            "api_user": "apiuser-au@apiconnector.com",
            "password": "au",
            "region": "r3",
            "programs": [{"name": "Only", "status": "Deactivated"}],
            "features": {"insight_data": False},
        },
    )
    assert created.status_code == 201
    api = ApiCaller(app, "apiuser-au@apiconnector.com", "au", region="r3")
    assert [p["name"] for p in api.get("/v2/programs").get_json()] == ["Only"]
    added = client.post(
        "/_emulator/accounts/apiuser-au@apiconnector.com/programs",
        json={"name": "Second", "status": "Active"},
    ).get_json()
    client.patch(
        f"/_emulator/accounts/apiuser-au@apiconnector.com/programs/{added['id']}",
        json={"status": "Deactivated"},
    )
    assert api.get(f"/v2/programs/{added['id']}").get_json()["status"] == "Deactivated"
    assert client.post("/_emulator/accounts", json={"api_user": "x"}).status_code == 400


def test_cli_seeds_and_serves_over_loopback():
    args = build_parser().parse_args(
        [
            "--account",
            "apiuser-a@apiconnector.com:pa:r2",
            "--account",
            "apiuser-b@apiconnector.com:pb",
            "--disable-feature",
            "account_insight",
            "--enforce-double-opt-in",
            "--program",
            "Welcome:Active",
            "--program",
            "Old:Deactivated",
            "--rate-limit",
            "100",
        ]
    )
    seeds = seeds_from(args)
    assert [(s.api_user, s.region) for s in seeds] == [
        ("apiuser-a@apiconnector.com", "r2"),
        ("apiuser-b@apiconnector.com", "r1"),
    ]
    assert seeds[0].features["account_insight"] is False and seeds[0].enforce_double_opt_in
    assert [(p.name, p.status) for p in seeds[0].programs] == [
        ("Welcome", "Active"),
        ("Old", "Deactivated"),
    ]
    with start_server(create_app(seeds, processing_delay=0)) as server:
        auth = basic_auth("apiuser-a@apiconnector.com", "pa")
        info = requests.get(f"{server.url}/r1/v2/account-info", headers=auth, timeout=5).json()
        base = endpoint_of(info)
        assert base == f"{server.url}/r2"
        books = requests.get(f"{base}/v2/address-books", headers=auth, timeout=5)
        assert books.status_code == 200 and books.headers["X-RateLimit-Limit"] == "100"
        requests.post(f"{server.url}/_emulator/faults", json={"drop_rate": 1.0}, timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base}/v2/address-books", headers=auth, timeout=5)
