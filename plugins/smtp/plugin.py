"""The smtp plugin's hook implementations: the SMTP settings tab and its pages."""

from __future__ import annotations

from host.hookspecs import hookimpl
from host.web.tabs import SettingsTab

# The relay is Engagement Cloud's: the tab applies to connections to an Engagement Cloud account.
TAB = SettingsTab(name="smtp", title="SMTP", endpoint="smtp.tab", order=30, destinations=("engagement_cloud",))


@hookimpl
def register_settings_tabs(register):
    register(TAB)


@hookimpl
def register_blueprints(register):
    from .views import blueprint

    register(blueprint)
