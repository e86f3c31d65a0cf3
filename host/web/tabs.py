"""The tabs of the merchant settings shell: the host's own and those plugins contribute.

Plugins add theirs through the ``register_settings_tabs`` hook with a ``SettingsTab``; the
shell orders all tabs by ``order`` and links each to ``url_for(tab.endpoint)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from host.plugins import PluginHost


@dataclass(frozen=True)
class SettingsTab:
    """One tab: ``endpoint`` is the Flask endpoint of its page (e.g. ``"smtp.tab"``)."""

    name: str
    title: str
    endpoint: str
    order: int = 100


HOST_TABS = (
    SettingsTab(name="store", title="Store", endpoint="settings.store", order=10),
    SettingsTab(name="field_mapping", title="Field mapping", endpoint="settings.field_mapping", order=20),
)


def all_tabs(plugins: PluginHost) -> list[SettingsTab]:
    """The host's tabs and every enabled plugin's, in display order."""
    return sorted([*HOST_TABS, *plugins.settings_tabs], key=lambda tab: (tab.order, tab.title))
