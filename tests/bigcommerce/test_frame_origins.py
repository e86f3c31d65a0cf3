"""BigCommerce declares the control panels that frame the settings pages (host.web.security reads them)."""

from __future__ import annotations

from types import SimpleNamespace

from host.web.security import control_panel_origin, source_frame_origins
from plugins.bigcommerce.source import BigCommerceSource


def test_every_bigcommerce_control_panel_and_the_stores_own_may_frame_the_pages():
    source = BigCommerceSource()
    plugins = SimpleNamespace(sources={"bigcommerce": source})
    store = SimpleNamespace(source="bigcommerce",
                            source_data={"control_panel_base_url": "https://store-abc123.mybigcommerce.com/manage"})

    assert source_frame_origins(plugins) == ["https://*.bigcommerce.com"]
    assert control_panel_origin(plugins, store) == "https://store-abc123.mybigcommerce.com"
    assert control_panel_origin(plugins, SimpleNamespace(source="bigcommerce", source_data={})) is None
    assert control_panel_origin(plugins, SimpleNamespace(source="other", source_data=store.source_data)) is None
