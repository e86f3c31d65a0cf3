"""``python -m emulators engagement-cloud``: run the emulator on a port."""

from __future__ import annotations

import argparse
import json

from ..common import serve
from .app import DEFAULT_ACCOUNT, create_app
from .model import FEATURES, REGIONS, AccountSeed, ProgramSeed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators engagement-cloud",
        description="Local Engagement Cloud (dotdigital) emulator. Region rN is served under "
        "http://HOST:PORT/rN; a path without a prefix is r1.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="USER:PASSWORD[:REGION]",
        help="an API user and its password (repeatable); default "
        f"{DEFAULT_ACCOUNT['api_user']}:{DEFAULT_ACCOUNT['password']}",
    )
    parser.add_argument(
        "--accounts-file",
        metavar="JSON",
        help="a JSON list of account objects (see AccountSeed) added to --account",
    )
    parser.add_argument(
        "--region", choices=REGIONS, default="r1", help="region of accounts that name none"
    )
    parser.add_argument(
        "--disable-feature",
        action="append",
        default=[],
        choices=FEATURES,
        help="turn an account feature off (repeatable)",
    )
    parser.add_argument(
        "--enforce-double-opt-in",
        action="store_true",
        help="account setting: double opt-in for all signups, bulk included",
    )
    parser.add_argument(
        "--program",
        action="append",
        default=[],
        metavar="NAME[:STATUS]",
        help="seed a program (repeatable; STATUS Active|Deactivated|Draft|"
        "ReadOnly); default: a few active and inactive ones",
    )
    parser.add_argument(
        "--address-book",
        action="append",
        default=[],
        metavar="NAME",
        help="seed an address book (repeatable)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        metavar="PER_MINUTE",
        help="calls per minute per account (0 = unlimited)",
    )
    parser.add_argument("--enrolments-per-hour", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every API call")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of 5xx answers")
    parser.add_argument(
        "--processing-delay",
        type=float,
        default=0.2,
        help="seconds before imports and enrolments finish",
    )
    parser.add_argument(
        "--public-url", help="base URL used in ApiEndpoint (default: the URL the client called)"
    )
    parser.add_argument(
        "--endpoint-trailing-slash",
        action="store_true",
        help="end ApiEndpoint with '/', as dotdigital's own example does",
    )
    return parser


def seeds_from(args: argparse.Namespace) -> list[AccountSeed]:
    features = {name: name not in args.disable_feature for name in FEATURES}
    programs = None
    if args.program:
        programs = [
            ProgramSeed(*spec.rsplit(":", 1)) if ":" in spec else ProgramSeed(spec)
            for spec in args.program
        ]
    common = {
        "features": features,
        "enforce_double_opt_in": args.enforce_double_opt_in,
        "programs": programs,
        "address_books": list(args.address_book),
        "rate_limit_per_minute": args.rate_limit,
        "enrolments_per_hour": args.enrolments_per_hour,
    }
    seeds = []
    for spec in args.account:
        user, _, rest = spec.partition(":")
        password, _, region = rest.partition(":")
        seeds.append(
            AccountSeed.from_json(
                {"api_user": user, "password": password, "region": region or args.region} | common
            )
        )
    if args.accounts_file:
        with open(args.accounts_file, encoding="utf-8") as handle:
            seeds += [AccountSeed.from_json(common | entry) for entry in json.load(handle)]
    if not seeds:
        seeds.append(AccountSeed.from_json(DEFAULT_ACCOUNT | {"region": args.region} | common))
    return seeds


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    app = create_app(
        seeds_from(args),
        processing_delay=args.processing_delay,
        public_base_url=args.public_url,
        endpoint_trailing_slash=args.endpoint_trailing_slash,
        faults={"latency_ms": args.latency_ms, "error_rate": args.error_rate},
    )
    for seed in seeds_from(args):
        print(
            f" * account {seed.api_user} ({seed.region}): "
            f"http://{args.host}:{args.port}/{seed.region}",
            flush=True,
        )
    serve(app, args.host, args.port)
    return 0
