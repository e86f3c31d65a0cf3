"""Benchmark the BigCommerce emulator on a big store.

Builds a store of 1,000,000 customers and 2,000,000 orders in this process, then prints
the median time to serve a page of 250 customers (``include=addresses,formfields``, sorted
by ``date_modified``) and a page of 250 orders (``include=consignments.line_items``), and the
process's peak memory. Results go to the "BigCommerce emulator" section of
docs/benchmarks.md (other sections are left alone).

    .venv/bin/python bench/bigcommerce_emulator.py [--customers N] [--orders N] [--samples N] [--no-write]
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import write_section  # noqa: E402
from emulators.bigcommerce import DEFAULT_TOKEN, StoreSpec, create_app  # noqa: E402


def median_ms(client, paths: list[str]) -> tuple[float, int]:
    timings, records = [], 0
    for path in paths:
        started = time.perf_counter()
        response = client.get(path, headers={"X-Auth-Token": DEFAULT_TOKEN})
        body = response.get_json()
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        records += len(body["data"] if isinstance(body, dict) else body)
    return statistics.median(timings), records




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--subscribers", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--samples", type=int, default=30)
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
    # first requests build the sorted indexes (once per store until it changes)
    warm = time.perf_counter()
    client.get(f"{base}/v3/customers?limit=1&sort=date_modified:asc", headers={"X-Auth-Token": DEFAULT_TOKEN})
    client.get(f"{base}/v2/orders?limit=1", headers={"X-Auth-Token": DEFAULT_TOKEN})
    index_s = time.perf_counter() - warm
    customer_pages = args.customers // 250
    customers_ms, customers_read = median_ms(client, [
        f"{base}/v3/customers?include=addresses,formfields&sort=date_modified:asc&limit=250&page={rng.randint(1, customer_pages)}"
        for _ in range(args.samples)])
    order_pages = int(args.orders * 0.85) // 250
    orders_ms, orders_read = median_ms(client, [
        f"{base}/v2/orders?include=consignments.line_items&consignment_structure=object&sort=date_modified:asc"
        f"&limit=250&page={rng.randint(1, order_pages)}" for _ in range(args.samples)])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        "## BigCommerce emulator",
        "",
        f"`bench/bigcommerce_emulator.py`, in-process Flask test client, Python {platform.python_version()}, "
        f"{platform.machine()}, {time.strftime('%Y-%m-%d')}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| store | {args.customers:,} customers, {args.orders:,} orders, {args.subscribers:,} subscribers, {args.products:,} products |",
        f"| build (compact indexes, subscriber links) | {build_s:.1f} s |",
        f"| first sorted request (builds the sort indexes) | {index_s:.1f} s |",
        f"| median page of 250 customers (`include=addresses,formfields`, `sort=date_modified:asc`, random pages) | {customers_ms:.1f} ms |",
        f"| median page of 250 orders (`include=consignments.line_items`, random pages) | {orders_ms:.1f} ms |",
        f"| peak memory (max RSS) | {peak_mb:.0f} MB |",
        f"| samples per measure | {args.samples} ({customers_read:,} customers, {orders_read:,} orders read) |",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("bigcommerce-emulator", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
