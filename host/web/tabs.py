"""The tabs of the merchant settings shell: the host's own and those plugins contribute.

Plugins add theirs through the ``register_settings_tabs`` hook with a ``SettingsTab``; the
shell orders the tabs that apply to the session's connection by ``order`` and links each to
``url_for(tab.endpoint)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from host.plugins import PluginHost

if TYPE_CHECKING:
    from host.models import Connection


@dataclass(frozen=True)
class SettingsTab:
    """One tab: ``endpoint`` is the Flask endpoint of its page (e.g. ``"smtp.tab"``).

    ``destinations`` and ``sources`` name the connections the tab applies to: a connection
    whose destination (source) is among them; empty means any. A tab that does not apply to the
    session's connection is not shown, and its views should refuse it (``applies_to``).
    """

    name: str
    title: str
    endpoint: str
    order: int = 100
    destinations: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def applies_to(self, connection: Connection | None) -> bool:
        """Whether this tab belongs on ``connection``'s settings (None: no connection, no tab
        that names destinations or sources)."""
        if not self.destinations and not self.sources:
            return True
        if connection is None:
            return False
        return (not self.destinations or connection.destination in self.destinations) and (
            not self.sources or connection.source in self.sources
        )


HOST_TABS = (
    SettingsTab(name="store", title="Store", endpoint="settings.store", order=10),
    SettingsTab(name="field_mapping", title="Field mapping", endpoint="settings.field_mapping", order=20),
)


def all_tabs(plugins: PluginHost, connection: Connection | None = None) -> list[SettingsTab]:
    """The host's tabs and every enabled plugin's that applies to ``connection``, in display order."""
    tabs = [tab for tab in plugins.settings_tabs if tab.applies_to(connection)]
    return sorted([*HOST_TABS, *tabs], key=lambda tab: (tab.order, tab.title))
