"""Why Engagement Cloud refused something, in a merchant's words: each API error code has one
plain sentence and a fix, whatever its spelling; the plugin's own answers carry codes the
table knows; and what the client reports after giving up is a sentence, not a URL."""

from __future__ import annotations

import pytest
import responses

from host.errors import TransientError, UncertainWriteError
from plugins.engagement_cloud import reasons
from plugins.engagement_cloud.programs import ProgramNotActiveError
from tests.engagement_cloud.test_client import BASE, FakeTime, make_client
from tests.engagement_cloud.test_contacts import contact_records
from tests.engagement_cloud.test_programs import _contact_ids, _program

# A stored reason, as the plugin writes it (or the service answers it) → the start of its sentence.
CASES = [
    ("invalidEmail: Invalid value for 'email'", None, "The email address is not valid"),
    ("InvalidEmail: Invalid value for 'email'", None, "The email address is not valid"),
    ("contacts:invalidEmail: Invalid value for 'email': 'jo@'", None, "The email address is not valid"),
    ("400: Email is not a valid email address. ERROR_PARAMETER_INVALID", None, "The email address is not valid"),
    ("GloballySuppressed: The contact is suppressed", None, "Engagement Cloud has suppressed this email address"),
    ("Contact is suppressed. ERROR_CONTACT_SUPPRESSED", None, "Engagement Cloud has suppressed this email address"),
    ("JsonValueIncompatibleWithSchema: Field 'price' is expected to be a number", "orders",
     "A value in this order does not fit the type"),
    ("JsonValueIncompatibleWithSchema", "catalog", "A value in this product does not fit the type"),
    ("dataFieldTypeMismatch: 'abc' is not a Numeric value", "customers", "A value does not fit the type"),
    ("ContactEmailDoesNotExist: the contact is not in Engagement Cloud yet; retried after it syncs", "orders",
     "The order's contact is not in Engagement Cloud yet"),
    ("ERROR_CONTACT_NOT_FOUND: a contact to enrol does not exist in Engagement Cloud", "enrolments",
     "The contact is not in Engagement Cloud, so it cannot be enrolled"),
    (ProgramNotActiveError("21").reason, "enrolments", "The program is not active in Engagement Cloud"),
    ("404: Engagement Cloud refused the enrolment: Error: ERROR_PROGRAM_NOT_FOUND", "enrolments",
     "The program no longer exists"),
    ("DuplicateKey: Key '5' exists for a different contact", "orders",
     "Engagement Cloud already holds an order with this number, for another contact"),
    ("RejectedByWatchdog: the import was not processed by Engagement Cloud", "customers",
     "Engagement Cloud's import checks held back the batch"),
    ("Failed: the import was not processed by Engagement Cloud", "orders",
     "Engagement Cloud did not process the batch"),
    ("notReported: Engagement Cloud did not report this contact", "subscribers",
     "Engagement Cloud finished the import but did not say"),
    ("dataFieldNotFound: Data field 'BILLING_CITY' does not exist", "customers",
     "A data field in your field mapping does not exist"),
    ("ExceedsAllowedContactLimit: the import was not processed by Engagement Cloud", None,
     "The Engagement Cloud account has reached the number of contacts"),
    ("insightData:featureNotActive: Error: ERROR_FEATURENOTACTIVE", "catalog",
     "This Engagement Cloud account does not have the feature"),
    ("Blocker: abuse@example.com", None, "Engagement Cloud does not accept this kind of address"),
    ("duplicateIdentifier: Email 'jo@example.com' is in use", None, "Engagement Cloud already has another contact"),
    # a code the table does not know: the generic sentence, the code still shown
    ("contacts:somethingNew: A new kind of problem", None, "Engagement Cloud refused this record."),
    ("422: Engagement Cloud refused the enrolment: Error: ERROR_SOMETHING_NEW", "enrolments",
     "Engagement Cloud refused this enrolment."),
]


@pytest.mark.parametrize(("reason", "area", "sentence"), CASES)
def test_each_code_has_its_sentence_and_a_fix(reason, area, sentence):
    explained = reasons.explain(reason, area)

    assert explained is not None and explained.sentence.startswith(sentence), explained
    assert explained.fix and explained.code
    assert explained.code in reason


def test_codes_are_one_entry_whatever_their_spelling():
    spellings = ("ERROR_CONTACT_NOT_FOUND", "contactNotFound", "contacts:contactNotFound", "ContactNotFound")
    assert {reasons.normalise(code) for code in spellings} == {"contactnotfound"}
    assert reasons.normalise("insightData:collectionNotFound") == "collectionnotfound"


def test_a_reason_that_is_already_a_sentence_is_left_to_the_host():
    for reason in ("The answer to this enrolment was lost and Engagement Cloud's records could not be checked",
                   "waiting for the contact to reach the destination", "", None):
        assert reasons.explain(reason, "enrolments") is None


def test_every_sentence_and_fix_is_plain_words():
    entries = [*reasons.TABLE.values(), reasons.GENERIC]
    for entry in entries:
        for text in (entry.sentence, entry.fix, *entry.by_area.values()):
            assert text.endswith(".") and text[0].isupper(), text
            assert "ERROR_" not in text and "http" not in text and "{" not in text, text


def test_the_destination_explains_its_own_refusals_from_the_service(connection, destination, mapper, emulator):
    batch = contact_records(mapper, connection, range(1, 3))
    batch[1].key = batch[1].payload["identifiers"]["email"] = "not-an-email@"

    refused = destination.write_contacts(connection, batch, book_id=emulator.book_id("Customers"))[1]

    explained = destination.explain(refused.reason, area="customers")
    assert explained.sentence.startswith("The email address is not valid")
    assert explained.code == "invalidEmail"


def test_an_enrolment_in_an_inactive_program_is_explained(connection, destination, mapper, emulator):
    contact_ids = _contact_ids(destination, mapper, connection, [1])
    program = _program(destination, connection, "Old welcome series")

    with pytest.raises(ProgramNotActiveError) as refused:
        destination.enrol(connection, program, contact_ids)

    explained = destination.explain(refused.value.reason, area="enrolments")
    assert explained.sentence == "The program is not active in Engagement Cloud, so nobody can be enrolled in it."
    assert explained.fix.startswith("Activate the program in Engagement Cloud")
    assert explained.code == "ERROR_PROGRAM_NOT_ACTIVE"


@responses.activate
def test_giving_up_is_told_in_plain_words_without_urls_or_paths():
    client = make_client(FakeTime(), max_attempts=2)
    responses.get(f"{BASE}/v2/address-books", status=503, json={"message": "An error has occurred. ERROR_UNKNOWN"})
    responses.post(f"{BASE}/v2/programs/enrolments", status=502, body="Bad gateway")

    with pytest.raises(TransientError) as gave_up:
        client.get("/v2/address-books")
    with pytest.raises(UncertainWriteError) as lost:
        client.send("POST", "/v2/programs/enrolments", json={}, idempotent=False)

    assert gave_up.value.message == (
        "Engagement Cloud had a server problem (HTTP 503) (2 tries in a row). "
        "Nothing is lost: this part is synced again at the next sync.")
    assert lost.value.message == (
        "Engagement Cloud had a server problem (HTTP 502), so what was sent may or may not have arrived")
    for message in (gave_up.value.message, lost.value.message):
        assert "http://" not in message and "https://" not in message and "/v2/" not in message


def test_an_unreachable_service_is_told_in_plain_words():
    client = make_client(FakeTime(), max_attempts=2)
    client.base_url = "http://127.0.0.1:9"  # discard port: nobody answers

    with pytest.raises(TransientError) as gave_up:
        client.get("/v2/address-books")

    assert gave_up.value.message.startswith("Engagement Cloud could not be reached (2 tries in a row).")
    assert "127.0.0.1" not in gave_up.value.message and "ConnectionError" not in gave_up.value.message
