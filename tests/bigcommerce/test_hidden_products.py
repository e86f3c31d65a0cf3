"""Hidden products are listed too, flagged, so a product hidden after it was synced is noticed by
the periodic sync (incremental reads and the daily full refresh), not only by its webhook."""

from __future__ import annotations

from datetime import UTC, datetime

from host.testing.source_conformance import read_all
from plugins.bigcommerce.streams import PAGE_SIZE
from tests.bigcommerce.truth import refusals, served_page

PRODUCT_LISTING = "GET /stores/{store_hash}/v3/catalog/products"


def test_a_product_hidden_since_the_cursor_comes_in_the_next_read_flagged_hidden(bigcommerce):
    state = bigcommerce.state()
    shown = [p for p in state["products"] if p["is_visible"]]
    assert len(shown) < len(state["products"]), "the store holds hidden products already"
    source, connection = bigcommerce.source(), bigcommerce.connection()
    stream = source.stream("products")
    since = datetime.now(UTC).replace(microsecond=0).isoformat()
    bigcommerce.control(
        f"stores/{state['store_hash']}/products/{shown[0]['id']}", {"is_visible": False}, "PUT"
    )

    with bigcommerce.app.app_context():
        changed = read_all(source, connection, stream, since=since)
        everything = read_all(source, connection, stream)

    assert [(p["id"], p["is_visible"]) for p in changed] == [(str(shown[0]["id"]), False)]
    assert len(everything) == len(state["products"])
    assert sum(not p["is_visible"] for p in everything) == len(state["products"]) - len(shown) + 1
    modes = bigcommerce.control("modes", method="GET")
    pages = -(-len(state["products"]) // served_page(modes, PAGE_SIZE))
    assert bigcommerce.requests_made()[PRODUCT_LISTING] == 1 + pages + refusals(modes, PAGE_SIZE)  # one call per page
