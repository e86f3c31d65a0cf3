"""``python -m emulators {bigcommerce,engagement-cloud} [options]``: run one emulator."""

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "bigcommerce": "emulators.bigcommerce.cli",
        "engagement-cloud": "emulators.engagement_cloud.cli",
    }
    if not argv or argv[0] not in commands:
        print("usage: python -m emulators {bigcommerce,engagement-cloud} [options]", file=sys.stderr)
        return 2
    from importlib import import_module

    return import_module(commands[argv[0]]).main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
