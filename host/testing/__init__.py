"""Test helpers any plugin may import: the source conformance suite (``source_conformance``)."""
