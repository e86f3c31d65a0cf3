"""``python -m emulators bigcommerce [options]``: generate a store and serve it."""

from __future__ import annotations

import argparse
import gc
import time

from emulators.common import serve

from .app import DEFAULT_TOKEN, create_app
from .generator import StoreSpec


def _rate(text: str) -> tuple[int, int]:
    quota, _, window = text.partition("/")
    return int(quota), int(window or 30)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emulators bigcommerce", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8701)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--store-hash", default="abc123xyz")
    p.add_argument("--store-name", default="Emulated Goods")
    p.add_argument("--customers", type=int, default=100)
    p.add_argument("--subscribers", type=int, default=40)
    p.add_argument("--orders", type=int, default=200)
    p.add_argument("--products", type=int, default=30)
    p.add_argument("--brands", type=int, default=None, help="default: one per ten products, at least 4")
    p.add_argument("--categories", type=int, default=None, help="default: one per ten products, at least 12")
    p.add_argument("--access-token", default=DEFAULT_TOKEN, help="API-account token with every scope ('' = none)")
    p.add_argument("--rate-limit", type=_rate, default=None, metavar="Q/W", help="quota per window seconds, e.g. 150/30")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--error-rate", type=float, default=0.0, help="share of API requests answered 5xx")
    p.add_argument("--drop-rate", type=float, default=0.0, help="share of API requests whose connection is dropped")
    p.add_argument("--burst-429-every", type=int, default=0, help="every Nth API request starts a burst of 429s")
    p.add_argument("--webhook-retry-scale", type=float, default=1.0, help="multiply the documented retry delays")
    p.add_argument("--app-client-id")
    p.add_argument("--app-client-secret")
    p.add_argument("--app-auth-callback")
    p.add_argument("--app-load-callback")
    p.add_argument("--app-uninstall-callback")
    p.add_argument("--app-remove-user-callback")
    p.add_argument("--app-scopes", help="space-separated; default: every store_v2_* modify scope")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    spec = StoreSpec(store_hash=args.store_hash, name=args.store_name, seed=args.seed, customers=args.customers,
                     subscribers=args.subscribers, orders=args.orders, products=args.products,
                     brands=args.brands, categories=args.categories)
    apps = []
    if args.app_client_id:
        apps.append({"client_id": args.app_client_id, "client_secret": args.app_client_secret or "",
                     "auth_callback": args.app_auth_callback, "load_callback": args.app_load_callback,
                     "uninstall_callback": args.app_uninstall_callback,
                     "remove_user_callback": args.app_remove_user_callback, "scopes": args.app_scopes})
    started = time.perf_counter()
    app = create_app([spec], access_token=args.access_token or None, apps=apps, rate_limit=args.rate_limit,
                     latency_ms=args.latency_ms, webhook_retry_scale=args.webhook_retry_scale,
                     faults={"error_rate": args.error_rate, "drop_rate": args.drop_rate,
                             "burst_429_every": args.burst_429_every})
    gc.freeze()  # the generated indexes live for the whole run: keep them out of GC passes
    print(f" * store {spec.store_hash} ready in {time.perf_counter() - started:.1f}s "
          f"(token {args.access_token!r}); API base http://{args.host}:{args.port}/stores/{spec.store_hash}/")
    serve(app, args.host, args.port)
    return 0
