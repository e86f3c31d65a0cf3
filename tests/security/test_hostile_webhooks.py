"""The hostile corpus, webhooks: missing, wrong and other stores' secrets, bad ids, non-JSON,
oversized and deeply nested bodies. Each case asserts the status and the inbox afterwards.
One app serves the module (``shared``), reset to two freshly installed stores for each case."""

from __future__ import annotations

import json
import socket

import pytest
from werkzeug.test import EnvironBuilder

from host.testing import serve
from plugins.bigcommerce.webhooks import SECRET_HEADER

SCRIPT = '<script>alert("owned")</script>'
SQL = "1; DROP TABLE webhook_inbox; --"


def customer(record_id):
    return {"scope": "store/customer/updated", "data": {"type": "customer", "id": record_id}}


def order(record_id):
    return {"scope": "store/order/statusUpdated", "data": {"type": "order", "id": record_id}}


def product(record_id):
    return {"scope": "store/product/updated", "data": {"type": "product", "id": record_id}}


def subscriber(record_id):
    return {"scope": "store/subscriber/created", "data": {"type": "subscriber", "id": record_id}}


def address(record_id):
    return {"scope": "store/customer/address/updated",
            "data": {"type": "customer", "id": 60, "address": {"customer_id": record_id}}}


BAD_IDS = {
    "letters": "abc", "fraction": 1.5, "list": [1, 2], "path": "../../v2/store", "negative": -1,
    "zero": 0, "boolean": True, "null": None, "empty": "", "padded": " 5", "hex": "0x10",
    "exponent": "1e3", "too-big": 2**64, "fullwidth-digit": "\uff19", "object": {"id": 5},
    "twenty-digits": "12345678901234567890", "sql": SQL, "script": SCRIPT,
}
SCOPES = {"customer": customer, "order": order, "product": product, "subscriber": subscriber,
          "address": address}


@pytest.mark.parametrize("value", BAD_IDS.values(), ids=BAD_IDS.keys())
@pytest.mark.parametrize("scope", ["customer", "order", "product", "subscriber"])
def test_an_event_without_a_valid_id_is_refused_and_never_stored(shared, scope, value):
    response = shared.post_event(shared.event(**SCOPES[scope](value)))
    assert response.status_code == 400
    assert shared.inbox() == []


@pytest.mark.parametrize("value", ["abc", 0, 2.5, None, SCRIPT], ids=["letters", "zero", "fraction", "null", "script"])
def test_an_address_event_without_a_valid_customer_id_is_refused(shared, value):
    assert shared.post_event(shared.event(**address(value))).status_code == 400
    assert shared.inbox() == []


SECRETS = {
    "missing": None,
    "empty": "",
    "wrong": "not-the-secret-at-all",
    "sql": "' OR '1'='1",
    "script": SCRIPT,
    "very-long": "x" * 10_000,
    "unicode": "s\u00e9cr\u00e8t-\u2603",
    "other-store": "store_b",  # store_b's real secret, for an event from store_a
    "prefix-of-real": "PREFIX",
}


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_a_delivery_without_its_stores_secret_is_refused(shared, secret):
    if secret == "PREFIX":
        secret = shared.secrets["store_a"][:-1]
    response = shared.post_event(shared.event("store_a"), secret=secret)
    assert response.status_code == 401
    assert shared.inbox() == []


def test_a_stores_secret_does_not_speak_for_another_store(shared):
    response = shared.post_event(shared.event("store_b"), secret="store_a")
    assert response.status_code == 401
    assert shared.inbox() == []


SHAPES = {
    "not-json": (b"scope=store/customer/updated&id=5", 400),
    "truncated-json": (b'{"scope": "store/customer/updated", "data": {"id": 5', 400),
    "array": (b"[1, 2, 3]", 400),
    "string": (b'"store/customer/updated"', 400),
    "number": (b"42", 400),
    "null": (b"null", 400),
    "empty": (b"", 400),
    "bad-utf8": (b'{"scope": "\xff\xfe"}', 400),
    "nested-5000": (b"[" * 5000 + b"]" * 5000, 400),
    "nested-objects-9": (b'{"a":' * 9 + b"1" + b"}" * 9, 400),
    "nested-100000": (b"[" * 100_000 + b"]" * 100_000, 413),
    "oversized": (json.dumps({"scope": "store/customer/updated", "producer": "stores/store_a",
                              "data": {"id": 5}, "padding": "x" * 17_000}).encode(), 413),
    "no-scope": (json.dumps({"producer": "stores/store_a", "data": {"id": 5}}).encode(), 400),
    "scope-not-string": (json.dumps({"scope": ["store/customer/updated"], "producer": "stores/store_a",
                                     "data": {"id": 5}}).encode(), 400),
    "no-producer": (json.dumps({"scope": "store/customer/updated", "data": {"id": 5}}).encode(), 400),
    "producer-not-string": (json.dumps({"scope": "store/customer/updated", "producer": {"x": 1},
                                        "data": {"id": 5}}).encode(), 400),
    "data-not-object": (json.dumps({"scope": "store/customer/updated", "producer": "stores/store_a",
                                    "data": "5"}).encode(), 400),
}


@pytest.mark.parametrize(("raw", "status"), SHAPES.values(), ids=SHAPES.keys())
def test_a_body_of_the_wrong_shape_or_size_is_refused_without_a_500(shared, raw, status):
    response = shared.post_event(raw=raw)
    assert response.status_code == status
    assert shared.inbox() == []


def test_a_huge_announced_body_without_a_secret_is_refused_before_it_is_read(shared):
    class Unreadable:
        read_calls = 0

        def read(self, *args):
            Unreadable.read_calls += 1
            raise AssertionError("the body was read")

        readline = readlines = read

    builder = EnvironBuilder(path="/bigcommerce/webhooks", method="POST",
                             headers={"Content-Type": "application/json", SECRET_HEADER: "guess"})
    environ = builder.get_environ()
    environ.update({"CONTENT_LENGTH": str(100 * 1024 * 1024), "wsgi.input": Unreadable()})
    statuses = []
    b"".join(shared.app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert statuses == ["401 UNAUTHORIZED"]
    assert Unreadable.read_calls == 0


def test_a_streamed_body_past_the_limit_is_cut_off(shared):
    """Chunked, with no Content-Length to refuse it by: the read stops at the limit."""
    with serve(shared.app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(
                b"POST /bigcommerce/webhooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"{SECRET_HEADER}: {shared.secrets['store_a']}\r\n".encode()
                + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )
            chunk = b"x" * 8192
            try:
                for _ in range(64):  # 512 KiB offered
                    raw.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                raw.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered and closed early
            answer = raw.recv(200)
    assert answer.split(b"\r\n")[0].endswith(b"413 REQUEST ENTITY TOO LARGE")
    assert shared.inbox() == []


def test_only_what_the_host_needs_of_an_event_is_stored(shared):
    event = shared.event(**order("250"), extra={"name": SCRIPT, "card": "4111 1111 1111 1111"},
                          hash="a" * 40 + SCRIPT, store_id=SQL)
    assert shared.post_event(event).status_code == 200
    [row] = shared.inbox()
    assert (row.stream, row.record_id) == ("orders", "250")
    assert set(row.payload) == {"scope", "created_at", "hash"}
    assert len(row.payload["hash"]) <= 64 and "4111" not in json.dumps(row.payload)


def test_an_event_the_host_does_not_read_is_answered_and_not_stored(shared):
    for scope in ("store/cart/created", "store/app/uninstalled", "store/information/updated"):
        assert shared.post_event(shared.event(scope=scope, data={"id": "anything"})).status_code == 200
    assert shared.inbox() == []


def test_a_redelivered_event_is_stored_once(shared):
    event = shared.event(**customer(32))
    for _ in range(5):
        assert shared.post_event(event).status_code == 200
    assert [(row.stream, row.record_id) for row in shared.inbox()] == [("customers", "32")]


def test_the_receiver_takes_posts_only(shared):
    client = shared.client()
    for method in (client.get, client.put, client.delete):
        response = method("/bigcommerce/webhooks", headers={SECRET_HEADER: shared.secrets["store_a"]})
        assert response.status_code == 405
    assert shared.inbox() == []
