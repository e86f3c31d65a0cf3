"""Record validation: the compiled check that runs first never lets through a record the
canonical marshmallow schemas refuse, and it does vouch for the records sources really send
(otherwise every record would pay for marshmallow again)."""

import copy
import itertools

import pytest

from host.records import SCHEMAS, compile_check, validation_errors
from tests.sync.fakes import customer, order, product, subscriber

ADDRESS = {
    "first_name": "Zoë", "last_name": "Ünal", "company": None, "address1": "1 Main St",
    "address2": None, "city": "Kraków", "state": "Małopolskie", "region": "PL-12",
    "postcode": "30-001", "country": "Poland", "country_code": "PL", "phone": "+48 1", "fax": None,
}
VALID = {
    "customer": customer(7, "zoe@example.com", "2025-06-01T10:00:00Z", addresses=[ADDRESS]),
    "subscriber": subscriber(8, "sub@example.com", "2025-06-01T10:00:00.123456+00:00"),
    "order": order(
        9, "buyer@example.com", "2025-06-01T10:00:00+00:00", customer_id="7",
        currency="EUR", subtotal="10.00", discount="0", shipping="4.5", tax=None,
        items=[{"product_id": "1", "variant_id": None, "sku": "S", "name": "Tent", "quantity": 2,
                "price": "5.00", "total": "10.00"}],
    ),
    "product": {**product(3, "2025-06-01T10:00:00Z"), "categories": ["Tents"], "price": "5", "inventory": 3},
}
# Values each field kind may be given instead of a good one.
ODD_VALUES = [None, "", "not-a-date", "2025-13-01T00:00:00Z", "2025-06-01", "2025-06-01 10:00",
              "1.5", "abc", "NaN", "Infinity", 0, 1, -3, True, False, 1.5, float("nan"), [], {},
              ["x"], [{}], {"a": 1}, "no-at-sign", "a@b", "ana@example.com", b"bytes"]


def mutations(record: dict):
    for key in record:
        for value in ODD_VALUES:
            changed = copy.deepcopy(record)
            changed[key] = value
            yield changed
        missing = copy.deepcopy(record)
        del missing[key]
        yield missing
    for key, value in record.items():
        if isinstance(value, dict):
            for inner in mutations(value):
                yield {**record, key: inner}
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for inner in itertools.islice(mutations(value[0]), 200):
                yield {**record, key: [inner]}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_the_fast_check_vouches_only_for_records_marshmallow_accepts(kind):
    schema, surely_valid = SCHEMAS[kind](), compile_check(SCHEMAS[kind]())
    vouched = 0
    for record in mutations(VALID[kind]):
        if surely_valid(record):
            vouched += 1
            assert schema.validate(record) == {}, record
    assert vouched  # it is not a check that never vouches


@pytest.mark.parametrize("kind", sorted(VALID))
def test_real_records_take_the_fast_path_and_bad_ones_still_get_their_errors(kind):
    assert compile_check(SCHEMAS[kind]())(VALID[kind])
    assert validation_errors(kind, VALID[kind]) == {}
    broken = {**VALID[kind], "date_modified": "yesterday"}
    assert "date_modified" in validation_errors(kind, broken)
