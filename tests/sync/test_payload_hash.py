"""The ledger's hashes stay what they were: a store synced by an earlier version is not
re-sent in full because the hash is now computed faster."""

import datetime
import decimal
import hashlib
import json

import pytest

from host.sync.ledger import payload_hash


def canonical(payload) -> str:
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


@pytest.mark.parametrize(
    "payload",
    [
        {"identifiers": {"email": "ana@example.com"}, "dataFields": {"FIRSTNAME": "Ana", "B": None}},
        {"name": "Zoë Ünal", "city": "Kraków"},  # non-ASCII: json escapes it
        {"text": 'quote " backslash \\ newline \n tab \t control \x01 slash /'},
        {"prices": [1e16, 0.1, 1.5e-7, -0.0, 123456789.123, 2**70]},
        {"when": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)},
        {"total": decimal.Decimal("10.50"), "tuple": (1, 2)},
        {3: "integer keys", 1: "sorted as json sorts them"},
        {"separator": "\u2028"},
    ],
)
def test_hash_is_the_canonical_json_hash(payload):
    assert payload_hash(payload) == canonical(payload)


def test_key_order_does_not_matter():
    assert payload_hash({"a": 1, "b": {"c": 2, "d": 3}}) == payload_hash({"b": {"d": 3, "c": 2}, "a": 1})
