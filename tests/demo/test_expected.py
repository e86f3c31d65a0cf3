"""``demo.expected``: what Engagement Cloud must hold, from the two emulators' state alone (pure
functions: state in, expectations out), for the rules of issue 17."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from demo import expected

FIELDS = {"order_count": "NUMBER_OF_ORDERS", "total_spent": "TOTAL_SPEND", "average_order_value": "AOV",
          "first_order_date": "FIRST", "last_order_date": "LAST", "last_order_number": "LAST_NUMBER"}


def order(order_id, email, total, created, *, customer_id=0, status_id=11, refunded="0.0000", deleted=False,
          modified=None, **more):
    return {"id": order_id, "customer_id": customer_id, "status_id": status_id, "is_deleted": deleted,
            "total_inc_tax": total, "refunded_amount": refunded, "billing_address": {"email": email},
            "date_created": created, "date_modified": modified or created, **more}


def store(**parts):
    return {"customers": [], "subscribers": [], "orders": [], "products": [], "deleted": [], **parts}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---------------------------------------------------------------------- lifetime order fields
def test_lifetime_values_count_per_email_guests_included_less_refunds_and_without_incomplete_or_archived():
    orders = [
        order(7, "Ann@example.com", "100.0000", "Mon, 01 Jan 2024 10:00:00 +0000", customer_id=3),
        order(9, "ann@example.com", "50.5000", "Tue, 02 Jan 2024 10:00:00 +0000", refunded="20.0000"),  # a guest order
        order(12, "ann@example.com", "999.0000", "Wed, 03 Jan 2024 10:00:00 +0000", status_id=0),  # Incomplete
        order(13, "ann@example.com", "999.0000", "Thu, 04 Jan 2024 10:00:00 +0000", deleted=True),  # archived
        order(8, "ann@example.com", "10.0000", "Tue, 02 Jan 2024 10:00:00 +0000"),  # same second as 9: 9 is last
        order(20, "bob@example.com", "30.0000", "Fri, 05 Jan 2024 10:00:00 +0000", status_id=4, refunded="30.0000"),
        order(21, "", "5.0000", "Fri, 05 Jan 2024 10:00:00 +0000"),
    ]
    values = expected.lifetime_values(store(orders=orders))
    assert values == {
        "ann@example.com": {
            "order_count": 3, "total_spent": Decimal("140.50"), "average_order_value": Decimal("46.83"),
            "first_order_date": at("2024-01-01T10:00:00"), "last_order_date": at("2024-01-02T10:00:00"),
            "last_order_number": "9",
        },
        "bob@example.com": {
            "order_count": 1, "total_spent": Decimal("0.00"), "average_order_value": Decimal("0.00"),
            "first_order_date": at("2024-01-05T10:00:00"), "last_order_date": at("2024-01-05T10:00:00"),
            "last_order_number": "20",
        },
    }


def test_amounts_paid_in_another_currency_count_in_the_stores_own():
    paid_in_euros = order(1, "eu@example.com", "110.0000", "Mon, 01 Jan 2024 10:00:00 +0000",
                          currency_code="EUR", store_default_currency_code="USD",
                          store_default_to_transactional_exchange_rate="1.1000000000")
    values = expected.lifetime_values(store(orders=[paid_in_euros]))
    assert values["eu@example.com"]["total_spent"] == Decimal("100.00")


def test_lifetime_differences_compare_the_contacts_data_fields_and_want_none_without_orders():
    orders = [order(5, "ann@example.com", "12.5000", "Mon, 01 Jan 2024 10:00:00 +0000")]
    right = {"NUMBER_OF_ORDERS": 1, "TOTAL_SPEND": 12.5, "AOV": 12.5, "FIRST": "2024-01-01T10:00:00Z",
             "LAST": "2024-01-01T10:00:00Z", "LAST_NUMBER": "5"}
    account = {"contacts": [
        {"email": "ANN@example.com", "dataFields": right},
        {"email": "bob@example.com", "dataFields": {"FIRSTNAME": "Bob", "NUMBER_OF_ORDERS": None}},
        {"email": "cy@example.com", "dataFields": {**right, "TOTAL_SPEND": 13}},
        {"email": "dee@example.com", "dataFields": {"NUMBER_OF_ORDERS": 2}},
    ]}
    orders.append(order(6, "cy@example.com", "12.5000", "Mon, 01 Jan 2024 10:00:00 +0000"))
    orders[-1]["id"] = 5  # the same number as Ann's, so only the amount differs
    emails = ["ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com", "not-a-contact@example.com"]
    found = expected.lifetime_differences(store(orders=orders), account, emails, FIELDS)
    assert found == {
        "cy@example.com": {"total_spent": (Decimal("12.50"), 13)},
        "dee@example.com": {"order_count": (None, 2)},
    }


def test_an_emails_fields_may_be_on_their_way_until_after_its_latest_order_change():
    orders = [order(1, "ann@example.com", "1", "Mon, 01 Jan 2024 10:00:00 +0000",
                    modified="Mon, 08 Jan 2024 10:00:00 +0000"),
              order(2, "ann@example.com", "1", "Tue, 02 Jan 2024 10:00:00 +0000", deleted=True,
                    modified="Wed, 10 Jan 2024 10:00:00 +0000")]
    assert expected.last_order_change(store(orders=orders)) == {"ann@example.com": at("2024-01-10T10:00:00")}


# ---------------------------------------------------------------------- unsubscribes
ACCOUNT_BOOKS = [{"id": 1, "name": "BigCommerce customers"}, {"id": 2, "name": "BigCommerce subscribers"}]


def subscriber(sid, email, modified, consents=("marketing_newsletter",)):
    return {"id": sid, "email": email, "consents": list(consents), "date_created": "2023-01-01T00:00:00Z",
            "date_modified": modified}


def test_unsubscribes_read_are_the_subscribers_books_and_the_accounts_latest_per_email():
    account = {"address_books": ACCOUNT_BOOKS, "unsubscribes": [
        {"email": "Ann@example.com", "dateRemoved": "2024-01-01T10:00:00.000Z", "addressBookId": 2},
        {"email": "ann@example.com", "dateRemoved": "2024-01-03T10:00:00.000Z", "addressBookId": None},
        {"email": "ann@example.com", "dateRemoved": "2024-01-02T10:00:00.000Z", "addressBookId": 2},
        {"email": "bob@example.com", "dateRemoved": "2024-01-01T10:00:00.000Z", "addressBookId": 1},  # not read
        {"email": "cy@example.com", "dateRemoved": "2024-01-01T10:00:00.000Z", "addressBookId": None,
         "reason": "HardBounced"},
    ]}
    assert expected.unsubscribes(account, "BigCommerce subscribers") == {
        "ann@example.com": at("2024-01-03T10:00:00"), "cy@example.com": at("2024-01-01T10:00:00")}


def test_the_later_side_wins_an_unsubscribe_leaves_the_book_and_is_written_back_a_later_subscribe_stays():
    subscribers = [
        subscriber(1, "ann@example.com", "2024-01-01T09:00:00Z"),  # subscribed, then unsubscribed: unsubscribe wins
        subscriber(2, "bob@example.com", "2024-01-01T10:00:00Z"),  # same moment: the unsubscribe wins
        subscriber(3, "cy@example.com", "2024-01-02T09:00:00Z"),  # subscribed again after: the store wins
        subscriber(4, "dee@example.com", "2024-01-01T11:00:00Z", consents=()),  # written back: changed later
        subscriber(5, "eve@example.com", "2024-01-01T09:00:00Z"),  # never unsubscribed
    ]
    unsubscribed = {email: at("2024-01-01T10:00:00") for email in
                    ("ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com", "gone@example.com")}
    the_store = store(subscribers=subscribers)
    assert set(expected.unsubscribe_wins(the_store, unsubscribed)) == {"ann@example.com", "bob@example.com"}
    assert expected.unsubscribe_outcomes(the_store, unsubscribed) == {
        "waiting": {"ann@example.com", "bob@example.com"}, "written back": {"dee@example.com"},
        "subscribed again": {"cy@example.com"}, "no subscriber": {"gone@example.com"}}
    state = expected.expected_state(the_store, unsubscribed)
    assert state["subscribers_book"] == {"cy@example.com", "eve@example.com"}
    assert expected.expected_state(the_store)["subscribers_book"] == {
        "ann@example.com", "bob@example.com", "cy@example.com", "eve@example.com"}


# ---------------------------------------------------------------------- deletions
def test_people_deleted_in_the_store_leave_the_books_nothing_else_keeps_them_in():
    the_store = store(
        customers=[{"id": 2, "email": "sub-too@example.com"}],
        subscribers=[subscriber(9, "cust-too@example.com", "2024-01-01T00:00:00Z")],
        orders=[order(1, "gone@example.com", "5", "Mon, 01 Jan 2024 10:00:00 +0000", customer_id=1),  # an account's
                order(2, "guest-too@example.com", "5", "Mon, 01 Jan 2024 10:00:00 +0000")],  # a guest's
        deleted=[
            {"kind": "customer", "id": 1, "email": "Gone@example.com", "deleted_at": "2024-02-01T10:00:00Z"},
            {"kind": "subscriber", "id": 3, "email": "gone@example.com", "deleted_at": "2024-02-01T09:00:00Z"},
            {"kind": "customer", "id": 4, "email": "cust-too@example.com", "deleted_at": "2024-02-02T10:00:00Z"},
            {"kind": "subscriber", "id": 5, "email": "sub-too@example.com", "deleted_at": "2024-02-03T10:00:00Z"},
            {"kind": "customer", "id": 6, "email": "guest-too@example.com", "deleted_at": "2024-02-04T10:00:00Z"},
            {"kind": "customer", "id": 7, "email": "only@example.com", "deleted_at": "2024-02-05T10:00:00Z"},
        ],
    )
    assert expected.deletion_departures(the_store) == {
        "gone@example.com": (at("2024-02-01T10:00:00"), {"customers_book", "subscribers_book"}),
        "cust-too@example.com": (at("2024-02-02T10:00:00"), {"customers_book"}),
        "sub-too@example.com": (at("2024-02-03T10:00:00"), {"subscribers_book"}),
        "only@example.com": (at("2024-02-05T10:00:00"), {"customers_book", "subscribers_book"}),
    }
    state = expected.expected_state(the_store)
    assert "gone@example.com" not in state["customers_book"] | state["subscribers_book"]
    assert "guest-too@example.com" in state["customers_book"]
