"""Benchmark the BigCommerce emulator on a big store.

Builds a store of 1,000,000 customers, 2,000,000 orders and 200,000 subscribers in this
process, then prints the median time to serve filtered pages the way the host reads them:
customers by ``date_modified:min`` (keyset walk, ``sort=date_modified:asc``), orders by
``min_date_modified``, guest orders (``customer_id=0``), one guest's orders (``email=``) and a
page of subscribers (``date_modified:min``, id order), plus a few plain pages and the
process's peak memory. Results go to the "BigCommerce emulator" section of
docs/benchmarks.md (other sections are left alone).

    .venv/bin/python bench/bigcommerce_emulator.py [--customers N] [--orders N] [--subscribers N]
        [--samples N] [--only NAME,...] [--no-write]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import resource
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import write_section  # noqa: E402
from emulators.bigcommerce import DEFAULT_TOKEN, StoreSpec, create_app  # noqa: E402
from emulators.bigcommerce.formats import iso_z, rfc2822  # noqa: E402
from emulators.bigcommerce.generator import HISTORY_ENDS_AT, OPENED_AT  # noqa: E402

HEADERS = {"X-Auth-Token": DEFAULT_TOKEN}


def timed(client, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(path, headers=HEADERS)
    body = response.data
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code in (200, 204), (response.status_code, path, body[:200])
    if response.status_code == 204:
        return elapsed, 0
    data = response.get_json()
    return elapsed, len(data["data"] if isinstance(data, dict) else data)


def measure(client, paths: list[str]) -> dict:
    """First call separately (it may build an index), median of the rest."""
    first_ms, _ = timed(client, paths[0])
    timings, records = [], 0
    for path in paths[1:]:
        elapsed, count = timed(client, path)
        timings.append(elapsed)
        records += count
    return {"first": first_ms, "median": statistics.median(timings), "max": max(timings),
            "records": records, "samples": len(timings)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--subscribers", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--only", default="", help="comma-separated measure names")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    spec = StoreSpec(customers=args.customers, orders=args.orders, subscribers=args.subscribers,
                     products=args.products, seed=1)
    app = create_app([spec])
    build_s = time.perf_counter() - started
    gc.freeze()  # as the CLI does
    client = app.test_client()
    rng = random.Random(0)
    base = f"/stores/{spec.store_hash}"
    n = args.samples + 1  # the first call of each measure is reported apart

    def since(style) -> str:
        return quote(style(rng.randrange(OPENED_AT, HISTORY_ENDS_AT)))

    def guest_email() -> str:
        # the e-mail of a random guest order (read by id: cheap), as the host's guest reads ask
        while True:
            oid = rng.randrange(1, args.orders + 1)
            order = client.get(f"{base}/v2/orders/{oid}", headers=HEADERS).get_json()
            if order["customer_id"] == 0:
                return quote(order["billing_address"]["email"])

    customer_pages = max(1, args.customers // 250)
    measures = {
        "customers_since": (
            "customers, `include=addresses,formfields&sort=date_modified:asc&date_modified:min=…`",
            [f"{base}/v3/customers?include=addresses,formfields&sort=date_modified:asc&limit=250"
             f"&date_modified:min={since(iso_z)}" for _ in range(n)]),
        "customers_page": (
            "customers, `include=addresses,formfields&sort=date_modified:asc&page=…` (offset)",
            [f"{base}/v3/customers?include=addresses,formfields&sort=date_modified:asc&limit=250"
             f"&page={rng.randint(1, customer_pages)}" for _ in range(n)]),
        "orders_since": (
            "orders, `include=consignments.line_items&sort=date_modified:asc&min_date_modified=…`",
            [f"{base}/v2/orders?include=consignments.line_items&consignment_structure=object"
             f"&sort=date_modified:asc&limit=250&min_date_modified={since(rfc2822)}" for _ in range(n)]),
        "orders_guests": (
            "orders, `customer_id=0&sort=date_modified:asc&min_date_modified=…`",
            [f"{base}/v2/orders?customer_id=0&sort=date_modified:asc&limit=250"
             f"&min_date_modified={since(rfc2822)}" for _ in range(n)]),
        "orders_email": (
            "orders, `email=…&sort=date_modified:asc` (one guest's orders)",
            [f"{base}/v2/orders?email={guest_email()}&sort=date_modified:asc&limit=250" for _ in range(n)]),
        "subscribers_since": (
            "subscribers, `date_modified:min=…` (id order), random offset page",
            [f"{base}/v3/customers/subscribers?limit=250&date_modified:min={since(iso_z)}"
             f"&page={rng.randint(1, 20)}" for _ in range(n)]),
        "subscribers_page": (
            "subscribers, `page=…` (id order)",
            [f"{base}/v3/customers/subscribers?limit=250&page={rng.randint(1, max(1, args.subscribers // 250))}"
             for _ in range(n)]),
    }
    wanted = [m for m in args.only.split(",") if m] or list(measures)
    results = {}
    for name in wanted:
        label, paths = measures[name]
        results[name] = measure(client, paths)
        print(f"{name}: {results[name]}", flush=True)
    change_ms = []  # a change through the emulator updates every index built above in place
    for _ in range(args.samples):
        oid = rng.randrange(1, args.orders + 1)
        started = time.perf_counter()
        answer = client.put(f"/_emulator/stores/{spec.store_hash}/orders/{oid}",
                            json={"status_id": rng.choice((2, 10, 11)), "staff_notes": "bench"})
        change_ms.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.status_code
    print(f"order changes: median {statistics.median(change_ms):.1f} ms", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        "## BigCommerce emulator",
        "",
        f"`bench/bigcommerce_emulator.py`, in-process Flask test client, Python {platform.python_version()}, "
        f"{platform.machine()}, {time.strftime('%Y-%m-%d')}.",
        f"Store: {args.customers:,} customers, {args.orders:,} orders, {args.subscribers:,} subscribers, "
        f"{args.products:,} products; built in {build_s:.1f} s; peak memory (max RSS) {peak_mb:.0f} MB.",
        "",
        "| page of up to 250 | first call | median | max | samples (records read) |",
        "|---|---|---|---|---|",
    ]
    for name in wanted:
        r = results[name]
        lines.append(f"| {measures[name][0]} | {r['first']:.1f} ms | {r['median']:.1f} ms | {r['max']:.1f} ms "
                     f"| {r['samples']} ({r['records']:,}) |")
    lines += [
        "",
        f"A change (`PUT /_emulator/stores/…/orders/{{id}}`, status and notes, with every index above built): "
        f"median {statistics.median(change_ms):.1f} ms, max {max(change_ms):.1f} ms ({args.samples} changes).",
        "",
        "Dates are random points of the generated history, so a page is usually full. The first call of a",
        "measure builds the index it needs (sorted keys of one view, or the guest-to-orders map); every",
        "change through the emulator then updates the built indexes in place, so they are built once.",
        "Times include Flask dispatch and JSON encoding (no socket). An order page costs more than a",
        "customer page because each order is rebuilt with its line items, shipping addresses and buyer.",
        "Before the indexes (up to commit 21f0a89) the filters that compare record fields built every",
        "order in range on every page: at this size a `customer_id=0` page took a median of 211 s (2",
        "samples) and an `email=` page walked all 1.7 million listed orders the same way; on a",
        "50,000-customer store, 3 guest pages and 3 e-mail lookups took 87 s (0.3 s now, both under",
        "cProfile).",
        f"Load average at the end of the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs shared with other work,",
        "so these are upper bounds.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("bigcommerce-emulator", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
