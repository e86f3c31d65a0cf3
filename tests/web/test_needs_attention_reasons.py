"""The needs-attention list in a merchant's words: the destination's sentence and fix for each
refusal with the raw code under a details toggle, the host's own reasons in plain words too, a
filter by area, Retry all within the area shown, and a CSV download of this store's list only,
safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import re

from host.models import Enrolment, LedgerEntry
from host.reasons import Explanation
from tests.web.test_needs_attention import add, enrolment, load, other_store, visible_text

EXPLAINED = {
    "invalidEmail": ("The email address is not valid.", "Correct it in the store, then press Retry."),
    "ERROR_PROGRAM_NOT_ACTIVE": ("The program is not active.", "Activate it, then press Retry."),
    "JsonValueIncompatibleWithSchema": ("A value does not fit its field.", "Check the field types."),
}


def explaining(fake_cloud) -> list[tuple[str, str | None]]:
    """Give the fake destination a small table of its own; answer what it was asked."""
    asked = []

    def explain(reason, *, area=None):
        asked.append((reason, area))
        code = next((code for code in EXPLAINED if code in reason), None)
        return Explanation(*EXPLAINED[code], code=code) if code else None

    fake_cloud.destination.explain = explain
    return asked


def refused_rows(app, store: int) -> dict[str, int]:
    ids = add(
        app,
        LedgerEntry(connection_id=store, kind="customer_contact", source_id="jo@example", state="failed",
                    reason="invalidEmail: Invalid value for 'email': 'jo@example'", attempts=5),
        LedgerEntry(connection_id=store, kind="orders", source_id="100", state="failed",
                    reason="JsonValueIncompatibleWithSchema: Field 'price' is expected to be a number", attempts=1),
        LedgerEntry(connection_id=store, kind="subscribers", source_id="9", state="failed", attempts=5,
                    reason="invalid subscriber record: {'email': ['Not a valid email address.'], "
                           "'date_created': ['Missing data for required field.']}"),
        LedgerEntry(connection_id=store, kind="products", source_id="=HYPERLINK(\"http://x\")", state="failed",
                    reason="-2+3 cmd|' /C calc'!A0", attempts=5),
    )
    [deactivated] = add(app, enrolment(store, "fan@example.com", "deactivated",
                                       reason="Program 21 is not active in Engagement Cloud (ERROR_PROGRAM_NOT_ACTIVE)"))
    return dict(zip(("customer", "order", "subscriber", "product", "enrolment"), [*ids, deactivated], strict=True))


def test_each_refusal_shows_the_plain_sentence_and_fix_with_the_raw_code_under_details(web_app, merchant, fake_cloud):
    asked = explaining(fake_cloud)
    refused_rows(web_app, merchant.connection_id)

    response = merchant.get("/settings/store")
    page, html = visible_text(response), response.get_data(as_text=True)

    assert ("Contact in the customers book jo@example The email address is not valid. "
            "What to do: Correct it in the store, then press Retry. Details") in page
    assert ("fan@example.com: New subscriber, Welcome series The program is not active. "
            "What to do: Activate it, then press Retry.") in page
    assert ("Subscriber 9 The store sent a subscriber record that is incomplete or not valid: email is not a "
            "valid email address; creation date is missing. What to do: Correct it in your store") in page
    # the raw answer is there for support, behind a details toggle, never in the sentence
    details = re.findall(r"<details class=\"reason-details\">(.*?)</details>", html, re.DOTALL)
    assert any("<code>invalidEmail</code>" in block and "Invalid value for &#39;email&#39;" in block
               for block in details)
    assert any("{&#39;email&#39;: [&#39;Not a valid email address.&#39;]" in block for block in details)
    assert "Not a valid email address.&#39;]" not in html.split("<details")[0]
    # the destination was asked with the area of each row; the host explained its own reason itself
    assert ("invalidEmail: Invalid value for 'email': 'jo@example'", "customers") in asked
    assert any(area == "enrolments" for _, area in asked)
    assert not any(reason.startswith("invalid subscriber record") for reason, _ in asked)
    # a reason nobody explains is shown as it was written
    assert "Product =HYPERLINK(\"http://x\") -2+3 cmd|' /C calc'!A0" in page


def test_the_list_can_be_filtered_by_area(web_app, merchant, fake_cloud):
    explaining(fake_cloud)
    refused_rows(web_app, merchant.connection_id)

    page = visible_text(merchant.get("/settings/store"))
    assert ("Show Every area (5) Customers book (1) Subscribers book (1) Orders (1) Catalog (1) "
            "Enrolments (1) Filter") in page

    orders = visible_text(merchant.get("/settings/store?area=orders"))
    assert "Showing 1 in Orders of 5 in all." in orders
    assert "Order 100 A value does not fit its field." in orders
    assert "jo@example" not in orders and "fan@example.com" not in orders and "Subscriber 9" not in orders
    assert "Retry all in Orders" in orders

    enrolments = visible_text(merchant.get("/settings/store?area=enrolments"))
    assert "fan@example.com" in enrolments and "Order 100" not in enrolments

    anything = visible_text(merchant.get("/settings/store?area=nonsense"))  # an unknown area: everything
    assert "Order 100" in anything and "fan@example.com" in anything


def test_retry_all_in_an_area_retries_only_that_area(web_app, merchant, fake_cloud):
    rows = refused_rows(web_app, merchant.connection_id)

    response = merchant.post("/settings/store/retry", {"all": "1", "area": "customers"})

    assert response.status_code == 302 and "area=customers" in response.headers["Location"]
    assert load(web_app, LedgerEntry, rows["customer"]).attempts == 0
    assert load(web_app, LedgerEntry, rows["subscriber"]).attempts == 5
    assert load(web_app, LedgerEntry, rows["product"]).attempts == 5
    assert load(web_app, Enrolment, rows["enrolment"]).state == "deactivated"


def test_an_enrolment_the_program_could_not_take_is_queued_again_by_retry(web_app, merchant, fake_cloud):
    rows = refused_rows(web_app, merchant.connection_id)

    merchant.post("/settings/store/retry", {"enrolment": str(rows["enrolment"])})

    row = load(web_app, Enrolment, rows["enrolment"])
    assert (row.state, row.reason, row.attempts, row.due_at) == ("pending", None, 0, None)
    assert "1 enrolment will be retried at the next sync." in visible_text(merchant.get("/settings/store"))


def csv_of(response) -> list[dict[str, str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # spreadsheets read it as UTF-8
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_the_csv_download_is_this_stores_list_in_plain_words_and_safe_to_open(web_app, merchant, fake_cloud):
    explaining(fake_cloud)
    refused_rows(web_app, merchant.connection_id)
    theirs = other_store(web_app)
    add(web_app, LedgerEntry(connection_id=theirs, kind="orders", source_id="7", state="failed",
                             reason="secret of other", attempts=5),
        enrolment(theirs, "x@example.com", "failed", reason="secret enrolment of other"))

    response = merchant.get("/settings/store/needs-attention.csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="needs-attention-')
    assert "secret" not in response.get_data(as_text=True)
    rows = {row["Record"]: row for row in csv_of(response)}
    assert set(rows) == {"Contact in the customers book jo@example", "Order 100", "Subscriber 9",
                         "Product =HYPERLINK(\"http://x\")", "fan@example.com: New subscriber, Welcome series"}
    customer = rows["Contact in the customers book jo@example"]
    assert customer == {
        "Area": "Customers book", "Record": "Contact in the customers book jo@example",
        "What happened": "The email address is not valid.",
        "What to do": "Correct it in the store, then press Retry.", "Code": "invalidEmail",
        "Details": "invalidEmail: Invalid value for 'email': 'jo@example'", "Refused": "5",
        "Status": "Needs Retry (refused 5 times)", "Next try": "", "Last refused": customer["Last refused"],
    }
    assert rows["Order 100"]["Status"] == "Retried automatically"
    assert rows["fan@example.com: New subscriber, Welcome series"]["Area"] == "Enrolments"
    # a cell a spreadsheet would run as a formula is written as text
    product = rows["Product =HYPERLINK(\"http://x\")"]
    assert product["What happened"] == "'-2+3 cmd|' /C calc'!A0"
    assert product["Details"] == "'-2+3 cmd|' /C calc'!A0"


def test_the_csv_of_one_area_and_its_escaping(web_app, merchant, fake_cloud):
    store = merchant.connection_id
    add(web_app,
        LedgerEntry(connection_id=store, kind="orders", source_id="100", state="failed", attempts=5,
                    reason='@SUM(A1) "quoted", with a comma\nand a new line'),
        LedgerEntry(connection_id=store, kind="orders", source_id="+101", state="failed", attempts=5, reason="=1+1"),
        LedgerEntry(connection_id=store, kind="customer_contact", source_id="a@example.com", state="failed",
                    attempts=5, reason="not an order"))

    rows = csv_of(merchant.get("/settings/store/needs-attention.csv?area=orders"))

    assert sorted((row["Record"], row["What happened"]) for row in rows) == [
        ("Order +101", "'=1+1"),
        ("Order 100", "'@SUM(A1) \"quoted\", with a comma\nand a new line"),
    ]


def test_the_csv_needs_a_signed_in_merchant(web_app, connected_store_id):
    response = web_app.test_client().get("/settings/store/needs-attention.csv")
    assert response.status_code == 401
