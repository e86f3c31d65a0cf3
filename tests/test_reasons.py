"""The host's side of plain reasons: its own reasons in a merchant's words, the destination asked
for its codes, anything else shown as written; and which area a ledger kind belongs to."""

from __future__ import annotations

from host.reasons import Explanation, area_of, explain, host_explanation, ledger_areas
from host.records import validation_errors
from host.sources import Stream


class Explaining:
    title = "Some Cloud"

    def __init__(self):
        self.asked = []

    def explain(self, reason, *, area=None):
        self.asked.append((reason, area))
        return Explanation("Explained by the destination.", "Do this.", "CODE") if "CODE" in reason else None


def test_an_invalid_store_record_is_told_field_by_field():
    errors = validation_errors("customer", {"id": "7", "email": "not-an-email", "addresses": [{"city": 5}]})
    reason = f"invalid customer record: {errors}"  # as host.sync.pages stores it

    explained = host_explanation(reason, "Some Cloud")

    assert explained.sentence.startswith("The store sent a customer record that is incomplete or not valid: ")
    assert "email is not a valid email address" in explained.sentence
    assert "creation date is missing" in explained.sentence and "last change date is missing" in explained.sentence
    assert "addresses item 1 city is not text" in explained.sentence
    assert "{" not in explained.sentence and "[" not in explained.sentence
    assert explained.fix.startswith("Correct it in your store") and explained.code == "invalid customer record"


def test_a_cut_off_invalid_record_reason_still_reads_plainly():
    explained = host_explanation("invalid order record: {'email': ['Not a valid em", "Some Cloud")
    assert explained.sentence == "The store sent an order record that is incomplete or not valid."


def test_the_destination_explains_its_codes_and_the_rest_is_shown_as_written():
    destination = Explaining()

    assert explain("CODE: refused", area="orders", destination=destination).sentence == "Explained by the destination."
    assert explain("a sentence already.", area="enrolments", destination=destination) == Explanation("a sentence already.")
    assert destination.asked == [("CODE: refused", "orders"), ("a sentence already.", "enrolments")]
    assert explain("no answer for this record", area="customers", destination=destination).sentence == (
        "Some Cloud gave no answer about this record.")
    assert explain(None, area="orders", destination=destination).sentence == "Some Cloud refused this without saying why."
    assert explain("invalid product record: {}", area="catalog", destination=None).sentence.startswith(
        "The store sent a product record")
    assert ("invalid product record: {}", "catalog") not in destination.asked  # the host's own reason


def test_each_ledger_kind_has_its_area():
    streams = [Stream("members", "customer", "/m", "id", None, 10), Stream("signups", "subscriber", "/s", "id", None, 10),
               Stream("sales", "order", "/o", "id", None, 10), Stream("items", "product", "/i", "id", None, 10)]
    declared = ledger_areas(streams)

    assert [area_of(kind, declared) for kind in ("customer_contact", "subscriber_contact", "members", "signups",
                                                 "sales", "items")] == [
        "customers", "subscribers", "customers", "subscribers", "orders", "catalog"]
    # a kind no declared stream explains: as its name suggests
    assert [area_of(kind, {}) for kind in ("guests", "orders", "products", "newsletter_subscribers", "reviews")] == [
        "customers", "orders", "catalog", "subscribers", "other"]
