"""What the mapper makes of canonical contacts: mapped fields, dates, opt-in and consent."""

from __future__ import annotations

from host.records import contact_fields

from . import records


def test_default_mapping_covers_engagement_clouds_default_fields(mapper):
    assert mapper.default_mapping() == {"first_name": "FIRSTNAME", "last_name": "LASTNAME",
                                        "billing_postcode": "POSTCODE"}


def test_only_mapped_fields_with_a_value_are_in_the_payload_dates_in_iso_utc(mapper, connection):
    customer = records.customer(3) | {"date_created": "2023-06-01T14:00:00+02:00", "company": "x" * 300}
    fields = contact_fields(customer, None)
    mapping = {"first_name": "FIRSTNAME", "date_created": "CREATED", "company": "COMPANY", "phone": "PHONE"}

    record = mapper.map_contact(connection, email=" Shopper3@Example.com ", fields=fields, mapping=mapping)

    assert record.key == "shopper3@example.com"
    # PHONE has no value: left out, so mapping it changed nothing for this contact's payload.
    assert record.payload == {"identifiers": {"email": "Shopper3@Example.com"},
                              "dataFields": {"FIRSTNAME": "First3", "CREATED": "2023-06-01T12:00:00Z",
                                             "COMPANY": "x" * 255}}


def test_lifetime_order_fields_are_numbers_dates_and_an_order_number_each_into_its_types(mapper, connection):
    lifetime = {"order_count": 3, "total_spent": "60.50", "average_order_value": "20.00",
                "first_order_date": "2024-03-01T10:00:00+00:00", "last_order_date": "2024-04-02T09:30:00+01:00",
                "last_order_number": "103"}
    fields = contact_fields(records.customer(3), None, lifetime)
    mapping = {"order_count": "ORDERS", "total_spent": "SPENT", "average_order_value": "AOV",
               "first_order_date": "FIRST", "last_order_date": "LAST", "last_order_number": "LAST_NO"}

    record = mapper.map_contact(connection, email="shopper3@example.com", fields=fields, mapping=mapping)

    assert record.payload["dataFields"] == {"ORDERS": 3, "SPENT": 60.5, "AOV": 20, "FIRST": "2024-03-01T10:00:00Z",
                                            "LAST": "2024-04-02T08:30:00Z", "LAST_NO": "103"}
    assert [mapper.accepted_types(key) for key in mapping] == [
        ("Numeric",), ("Numeric",), ("Numeric",), ("Date",), ("Date",), ("String", "Numeric")]
    assert mapper.map_contact(connection, email="shopper3@example.com", fields=contact_fields(
        records.customer(3), None), mapping=mapping).payload["dataFields"] == {}  # no counting order: no value


def test_the_record_sent_clears_the_fields_it_has_no_value_for_but_never_a_system_field(mapper, connection):
    fields = contact_fields(records.customer(3) | {"company": "  "}, None)
    mapping = {"first_name": "FIRSTNAME", "company": "COMPANY", "phone": "LASTSUBSCRIBED"}

    record = mapper.map_contact(connection, email="shopper3@example.com", fields=fields, mapping=mapping)
    sent = mapper.with_cleared(record, {"FIRSTNAME", "COMPANY", "LASTSUBSCRIBED", "OLD_FIELD"})

    assert record.payload["dataFields"] == {"FIRSTNAME": "First3"}  # blank and system fields left out
    assert sent.payload["dataFields"] == {"FIRSTNAME": "First3", "COMPANY": None, "OLD_FIELD": None}
    assert sent.payload["identifiers"] == record.payload["identifiers"]


def test_text_goes_into_string_fields_and_dates_into_date_fields(mapper):
    assert mapper.accepted_types("company") == ("String",)
    assert mapper.accepted_types("billing_postcode") == ("String",)
    assert mapper.accepted_types("date_created") == ("Date",)


def test_a_subscriber_without_known_ip_or_browser_still_gets_a_complete_consent_record(mapper, connection):
    subscriber = records.subscriber(4) | {"consent": None}

    mapped = mapper.map_contact(connection, email=subscriber["email"], fields={}, mapping={}, subscriber=subscriber)
    record = mapper.with_consent(connection, mapped, subscriber)  # as the host sends a new consent

    assert "consentRecords" not in mapped.payload  # not hashed: sent once, when given
    assert record.payload["channelProperties"] == {"email": {"emailType": "html", "optInType": "single",
                                                             "status": "subscribed"}}
    assert record.payload["consentRecords"] == [{
        "text": "Yes, I would like to receive news, offers and updates by email.",
        "dateTimeConsented": "2023-06-01T12:04:00Z", "url": "https://demo-store.example.com",
        "ipAddress": "0.0.0.0", "userAgent": "unknown"}]


def test_a_subscriber_who_is_not_opted_in_changes_no_subscription(mapper, connection):
    subscriber = records.subscriber(4, opted_in=False)

    record = mapper.map_contact(connection, email=subscriber["email"], fields={}, mapping={}, subscriber=subscriber)

    assert "channelProperties" not in record.payload and "consentRecords" not in record.payload
