"""The plugin's configuration: ``[plugins.bigcommerce]`` plus the host's public URL.

``login_base_url`` and ``api_base_url`` point at BigCommerce or at the emulator; callback and
webhook URLs are the host's ``public_url`` plus this plugin's routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from host.config import plugin_config

ROUTE_PREFIX = "/bigcommerce"


@dataclass(frozen=True)
class AppSettings:
    client_id: str
    client_secret: str
    login_base_url: str
    api_base_url: str
    public_url: str

    @classmethod
    def current(cls) -> AppSettings:
        """The running app's settings (needs an application context)."""
        section = plugin_config("bigcommerce")
        return cls(
            client_id=str(section.get("client_id") or ""),
            client_secret=str(section.get("client_secret") or ""),
            login_base_url=str(
                section.get("login_base_url") or "https://login.bigcommerce.com"
            ).rstrip("/"),
            api_base_url=str(section.get("api_base_url") or "https://api.bigcommerce.com").rstrip(
                "/"
            ),
            public_url=str(current_app.config.get("HOST", {}).get("public_url") or "").rstrip("/"),
        )

    def url_for(self, route: str) -> str:
        """The public URL of one of this plugin's routes (``auth``, ``load``, ``webhooks``...)."""
        return f"{self.public_url}{ROUTE_PREFIX}/{route}"

    def __repr__(self) -> str:  # the client secret is never shown
        return f"AppSettings(client_id={self.client_id!r}, api_base_url={self.api_base_url!r})"
