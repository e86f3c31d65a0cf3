"""The example's fixtures (a fake shop, the installed example plugin, a connection), shared with
the other test modules here (test_conformance_catches.py)."""

from tests.examples.test_example_shop import (  # noqa: F401 (fixtures, used by name)
    connected,
    example,
    installed_example,
    shop_server,
)
