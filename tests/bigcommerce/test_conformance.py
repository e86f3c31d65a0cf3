"""The BigCommerce source passes the host's source conformance suite against the emulator."""

from __future__ import annotations

import pytest

from host.sources import Page, Source
from host.testing.source_conformance import SourceConformance, check_reads_by_id
from tests.bigcommerce.truth import listed_orders, truth


class TestBigCommerceConformance(SourceConformance):
    @pytest.fixture
    def conformance_source(self, bigcommerce):
        with bigcommerce.app.app_context():
            yield bigcommerce.source()

    @pytest.fixture
    def conformance_connection(self, bigcommerce):
        return bigcommerce.connection()

    @pytest.fixture
    def conformance_truth(self, bigcommerce, conformance_connection):
        return lambda stream: truth(bigcommerce.state(), stream, conformance_connection.store_url)

    @pytest.fixture
    def conformance_truth_by_id(self, bigcommerce, conformance_connection):
        """Reads by id see the Incomplete and archived orders the listing leaves out, flagged."""
        return lambda stream: truth(
            bigcommerce.state(), stream, conformance_connection.store_url, by_id=True
        )

    @pytest.fixture
    def conformance_mutate(self, bigcommerce):
        def mutate() -> dict[str, set[str]]:
            state = bigcommerce.state()
            store = f"stores/{state['store_hash']}"
            registered = [o["id"] for o in listed_orders(state) if o["customer_id"]]
            visible = [p["id"] for p in state["products"] if p["is_visible"]]
            bigcommerce.control(f"{store}/customers/1", {"first_name": "Renamed"}, "PUT")
            new_customer = bigcommerce.control(
                f"{store}/customers",
                {"email": "new.person@example.com", "first_name": "New", "last_name": "Person"},
            )
            new_subscriber = bigcommerce.control(
                f"{store}/subscribers",
                {"email": "fresh@example.com", "consents": ["marketing_newsletter"]},
            )
            bigcommerce.control(f"{store}/subscribers/2", {"consents": []}, "PUT")
            bigcommerce.control(f"{store}/orders/{registered[0]}", {"status_id": 2}, "PUT")
            bigcommerce.control(f"{store}/orders/{registered[1]}", method="DELETE")  # archived
            guest_order = bigcommerce.control(f"{store}/orders", {"customer_id": 0})["data"]
            bigcommerce.control(f"{store}/products/{visible[0]}", {"price": 99.5}, "PUT")
            bigcommerce.control(
                f"{store}/products/{visible[1]}", {"is_visible": False}, "PUT"
            )  # hidden: still listed, flagged, so the host can remove it
            new_product = bigcommerce.control(
                f"{store}/products", {"name": "Brand New Thing", "is_visible": True}
            )
            return {
                "customers": {"1", str(new_customer["data"]["id"])},
                "subscribers": {"2", str(new_subscriber["data"]["id"])},
                "orders": {str(registered[0]), str(registered[1]), str(guest_order["id"])},
                "products": {str(visible[0]), str(visible[1]), str(new_product["data"]["id"])},
            }

        return mutate

    @pytest.fixture
    def conformance_break(self, bigcommerce, conformance_connection):
        def break_(kind: str) -> None:
            if kind == "credentials":
                conformance_connection.source_secrets = {"access_token": "revoked-token"}
            else:
                bigcommerce.control("faults", {"error_rate": 1.0, "error_statuses": [500, 503]})

        return break_

    @pytest.fixture
    def conformance_page_limit(self, bigcommerce):
        def shorten() -> int:  # larger limits refused or capped, as ``over_limit`` says
            bigcommerce.control("modes", {"max_page_size": 20}, "PATCH")
            return 20

        return shorten

    @pytest.fixture
    def conformance_malformed(self, bigcommerce):
        def inject() -> tuple[str, str]:  # an account whose email is no email address
            store = f"stores/{bigcommerce.state()['store_hash']}"
            created = bigcommerce.control(
                f"{store}/customers", {"email": "not-an-email", "first_name": "Broken"}
            )
            return "customers", str(created["data"]["id"])

        return inject


class _Wrong(Source):
    """The BigCommerce source with one thing wrong in every record it reads."""

    name, title = "wrong_bigcommerce", "Wrong BigCommerce"

    def __init__(self, inner: Source, wrong) -> None:
        self.inner, self.wrong = inner, wrong

    def streams(self):
        return self.inner.streams()

    def read(self, connection, stream, **kwargs):
        for page in self.inner.read(connection, stream, **kwargs):
            yield Page(records=[self.wrong(stream.kind, dict(r)) for r in page.records])


def _opted_in(kind, record):
    return {**record, "opted_in": True} if kind == "subscriber" else record


def _never_abandoned(kind, record):
    return {**record, "is_incomplete": False} if kind == "order" else record


def _no_addresses(kind, record):
    return {**record, "addresses": []} if kind == "customer" else record


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_opted_in, r"subscribers \d+: opted_in: read True, the platform holds False"),
        (_never_abandoned, r"orders \d+: is_incomplete: read False, the platform holds True"),
        (_no_addresses, r"customers \d+: addresses: read \[\], the platform holds \[\{"),
    ],
)
def test_the_suite_fails_a_wrong_bigcommerce_read(bigcommerce, wrong, message):
    """Incomplete orders are not listed: reads by id are where an unflagged one shows."""
    connection = bigcommerce.connection()

    def by_id(stream: str) -> dict:
        return truth(bigcommerce.state(), stream, connection.store_url, by_id=True)

    with bigcommerce.app.app_context():
        source = bigcommerce.source()
        check_reads_by_id(source, connection, by_id)
        with pytest.raises(AssertionError, match=message):
            check_reads_by_id(_Wrong(source, wrong), connection, by_id)
