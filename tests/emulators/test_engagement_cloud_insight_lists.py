"""Insight record lists (``api_insight``): ``{"_links", "_items"}`` with ``marker`` paging,
checked against dotdigital's Insight data spec.

Spec defect (see ``test_engagement_cloud_contract``): ``returnedInsightRecord`` is an ``allOf``
whose second branch sets ``additionalProperties: false`` without ``key``/``json``, so no
record validates as a whole. Each list answer is validated with its ``_items`` emptied
(``_links`` and the envelope), and each item against the two branches' own parts:
``insightRecord`` and the ``created``/``updated``/``ownerContactId`` object.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from emulators.engagement_cloud.testing import basic_auth

from .test_engagement_cloud_contract import BASE_URL, PASSWORD, SPEC_DIR, USER, ContractClient, spec

pytestmark = pytest.mark.skipif(
    not SPEC_DIR.is_dir(), reason=f"vendor OpenAPI specs not found at {SPEC_DIR}"
)
openapi_core = pytest.importorskip("openapi_core")
from openapi_core.contrib.werkzeug import (  # noqa: E402
    WerkzeugOpenAPIRequest,
    WerkzeugOpenAPIResponse,
)
from openapi_schema_validator import OAS30Validator  # noqa: E402

HEADERS = basic_auth(USER, PASSWORD)


@pytest.fixture
def api() -> ContractClient:
    return ContractClient()


def _schemas() -> dict:
    from .test_engagement_cloud_contract import SPEC_FILES

    return json.loads((SPEC_DIR / SPEC_FILES["insight-v3"]).read_text())["components"]["schemas"]


def _validate_item(item: dict) -> None:
    schemas = _schemas()
    record = {"$ref": "#/components/schemas/insightRecord", "components": {"schemas": schemas}}
    OAS30Validator(record).validate({"key": item["key"], "json": item["json"]})
    stamps = dict(schemas["returnedInsightRecord"]["allOf"][1], components={"schemas": schemas})
    stamps["properties"] = {k: v if "$ref" not in v else {"type": "integer"} for k, v in stamps["properties"].items()}
    OAS30Validator(stamps).validate({k: v for k, v in item.items() if k not in ("key", "json")})


def list_page(api: ContractClient, path: str, query: str = "") -> dict:
    builder = EnvironBuilder(path=path, base_url=BASE_URL, query_string=query, headers=HEADERS)
    response = api.client.open(builder.get_environ())
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    request = WerkzeugOpenAPIRequest(Request(builder.get_environ()))
    spec("insight-v3").validate_request(request)
    envelope = Response(json.dumps(body | {"_items": []}), status=200, content_type="application/json")
    spec("insight-v3").validate_response(request, WerkzeugOpenAPIResponse(envelope))
    for item in body["_items"]:
        _validate_item(item)
    return body


def _contact(api: ContractClient, email: str) -> int:
    response = api.client.patch(f"/contacts/v3/email/{email}", json={"identifiers": {"email": email}},
                                headers=HEADERS)
    assert response.status_code == 201
    return response.get_json()["contactId"]


def _import(api: ContractClient, body: dict) -> None:
    assert api.client.put("/insightData/v3/import", json=body, headers=HEADERS).status_code == 202


def _seed(api: ContractClient) -> dict[str, int]:
    ids = {email: _contact(api, email) for email in ("ann@example.com", "bob@example.com")}
    _import(api, {"collectionName": "Catalog_Default", "collectionScope": "account", "collectionType": "catalog",
                  "records": [{"key": f"p{n:02d}", "json": {"name": f"Hat {n}"}} for n in range(1, 8)]})
    _import(api, {"collectionName": "Orders", "collectionScope": "contact", "collectionType": "orders",
                  "records": [{"contactIdentity": {"identifier": "email", "value": email}, "key": key,
                               "json": {"total": 1}}
                              for email, key in (("ann@example.com", "100"), ("bob@example.com", "200"),
                                                 ("ann@example.com", "300"))]})
    return ids


def _walk(api: ContractClient, path: str, limit: int) -> tuple[list[str], list[dict]]:
    keys, pages, query = [], [], f"limit={limit}"
    while True:
        body = list_page(api, path, query)
        pages.append(body)
        keys += [item["key"] for item in body["_items"]]
        if "next" not in body["_links"]:
            return keys, pages
        query = urlsplit(body["_links"]["next"]["link"]).query


def test_account_records_page_with_markers(api):
    _seed(api)
    path = "/insightData/v3/account/Catalog_Default"
    keys, pages = _walk(api, path, 3)
    assert keys == [f"p{n:02d}" for n in range(1, 8)]
    assert [len(p["_items"]) for p in pages] == [3, 3, 1]
    first = pages[0]["_links"]
    assert first["self"]["marker"] == "" and first["first"]["marker"] == ""
    assert first["self"]["link"] == f"{BASE_URL}{path}?limit=3"
    assert parse_qs(urlsplit(first["next"]["link"]).query)["marker"] == [first["next"]["marker"]]
    assert pages[1]["_links"]["self"]["marker"] == first["next"]["marker"]
    assert "ownerContactId" not in pages[0]["_items"][0]


def test_contact_lists_carry_the_owner(api):
    ids = _seed(api)
    everyone = list_page(api, "/insightData/v3/contacts/Orders")
    assert [(i["key"], i["ownerContactId"]) for i in everyone["_items"]] == [
        ("100", ids["ann@example.com"]), ("200", ids["bob@example.com"]), ("300", ids["ann@example.com"])]
    assert set(everyone["_links"]) == {"self", "first"}
    keys, _ = _walk(api, "/insightData/v3/contacts/email/ann@example.com/Orders", 1)
    assert keys == ["100", "300"]


def test_modified_filter_is_kept_in_links(api):
    _seed(api)
    body = list_page(api, "/insightData/v3/account/Catalog_Default", "~modified=gte::2000-01-01T00:00:00Z&limit=2")
    assert len(body["_items"]) == 2
    assert parse_qs(urlsplit(body["_links"]["next"]["link"]).query)["~modified"] == ["gte::2000-01-01T00:00:00Z"]
    future = list_page(api, "/insightData/v3/account/Catalog_Default", "~modified=gte::2999-01-01T00:00:00Z")
    assert future["_items"] == [] and "next" not in future["_links"]


@pytest.mark.parametrize("query", ["limit=0", "limit=5001", "limit=x", "marker=%%%", "~modified=2020-01-01"])
def test_bad_parameters_are_400(api, query):
    _seed(api)
    response = api.client.get(f"/insightData/v3/account/Catalog_Default?{query}", headers=HEADERS)
    assert response.status_code == 400 and response.get_json()["errorCode"] == "insightData:badRequest"


def test_unknown_collections_and_scopes_are_404(api):
    _seed(api)
    for path in ("/insightData/v3/account/Nope", "/insightData/v3/account/Orders",
                 "/insightData/v3/contacts/Catalog_Default"):
        response = api.client.get(path, headers=HEADERS)
        assert response.status_code == 404
        assert response.get_json()["errorCode"] == "insightData:collectionNotFound"
