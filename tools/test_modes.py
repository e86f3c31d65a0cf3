"""Run the client suites against every UNCONFIRMED reading the emulators can play.

Each emulator mode (``emulators/bigcommerce/modes.py``, ``emulators/engagement_cloud/modes.py``)
has a default, which ``make test`` runs. This runs the source, destination and sync suites
again with the emulators set, through their environment variables, to the other readings —
as few runs as cover every value once (the two emulators' modes are independent, so one run
carries several). Each run's modes and outcome are printed; the exit status is non-zero if any
run failed. It takes a few minutes a run, so it is not part of ``make test``:

    make test-modes                     # or: .venv/bin/python tools/test_modes.py [pytest args]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from itertools import zip_longest

SUITES = ["tests/bigcommerce", "tests/engagement_cloud", "tests/sync"]

# For each emulator's variable: mode → the readings other than the default, run in turn. A
# smaller largest page goes with both answers to a larger ``limit`` (capped, refused).
ALTERNATIVES: dict[str, dict[str, list[str]]] = {
    "BIGCOMMERCE_EMULATOR_MODES": {
        "order_max_date_modified": ["exclusive"],
        "order_is_deleted": ["ignored", "refused"],
        "max_page_size": ["100", "100"],
        "over_limit": ["capped", "refused"],
        "guest_order_filter": ["ignored"],
    },
    "ENGAGEMENT_CLOUD_EMULATOR_MODES": {
        "consent_records": ["deduplicated"],
        "data_field_types": ["lenient"],
    },
}


def runs() -> list[dict[str, str]]:
    """Environment settings, one per run, covering every alternative reading once."""
    columns = []
    for variable, modes in ALTERNATIVES.items():
        for name, values in modes.items():
            columns.append([(variable, f"{name}={value}") for value in values])
    settings = []
    for row in zip_longest(*columns):
        env: dict[str, list[str]] = {}
        for item in filter(None, row):
            env.setdefault(item[0], []).append(item[1])
        settings.append({variable: ",".join(pairs) for variable, pairs in env.items()})
    return settings


def main(pytest_args: list[str]) -> int:
    failed = 0
    for number, env in enumerate(runs(), 1):
        shown = "; ".join(f"{name}={value}" for name, value in env.items())
        print(f"run {number}: {shown}", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITES,
                                 *pytest_args], env=os.environ | env, capture_output=True, text=True)
        summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
        print(f"  {summary} ({time.monotonic() - started:.0f} s)", flush=True)
        if result.returncode:
            failed += 1
            print(result.stdout[-6000:], result.stderr[-2000:], sep="\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
