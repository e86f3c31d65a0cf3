"""The destination's public ``region``: what the SMTP tab asks instead of reading the connection's data."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from plugins.engagement_cloud.destination import EngagementCloud


@pytest.mark.parametrize(("data", "region"), [
    ({"region": "r2", "api_endpoint": "https://r2-api.dotdigital.com"}, "r2"),
    ({"region": "R3"}, "r3"),
    ({"api_endpoint": "https://r3-api.dotdigital.com"}, "r3"),  # saved before the region was
    ({"api_endpoint": "http://127.0.0.1:5011/r2"}, "r2"),  # an emulator's endpoint
    ({}, None),
    (None, None),
])
def test_the_region_is_the_one_the_credentials_check_learned(data, region):
    assert EngagementCloud().region(SimpleNamespace(destination_data=data)) == region
