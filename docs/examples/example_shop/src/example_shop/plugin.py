"""The example_shop plugin's hook implementations (the module the entry point names).

Importing this module does nothing but define functions: the host registers it, then calls the
hooks. ``register_sources`` adds the source; ``register_commands`` adds
``flask --app host example-shop-connect SHOP``, which checks a shop's API key and creates (or
refreshes) the shop's connection, the way BigCommerce's install callback does for that source.
"""

from __future__ import annotations

import click

from example_shop.source import PLUGIN_NAME, ExampleShopSource
from host import connections
from host.db import get_db
from host.errors import SyncError
from host.hookspecs import hookimpl
from host.plugins import get_plugins


@hookimpl
def register_sources(register):
    register(ExampleShopSource())


@hookimpl
def register_commands(cli):
    @cli.command("example-shop-connect")
    @click.argument("shop")
    @click.option(
        "--api-key",
        envvar="EXAMPLE_SHOP_API_KEY",
        prompt=True,
        hide_input=True,
        help="The shop's API key (or set EXAMPLE_SHOP_API_KEY); it is stored encrypted.",
    )
    def connect_shop(shop: str, api_key: str) -> None:
        """Connect an Example Shop shop to the host: check its API key and keep it encrypted."""
        source = get_plugins().source(PLUGIN_NAME)
        try:
            details = source.shop_details(shop, api_key)
        except SyncError as error:
            raise click.ClickException(error.message) from None
        with get_db().transaction() as session:
            connection = connections.install(
                session,
                source=PLUGIN_NAME,
                account=shop,
                store_name=str(details.get("name") or shop),
                store_url=str(details.get("url") or ""),
                secrets_={"api_key": api_key},
                data={},
            )
            click.echo(f"Connected {connection.store_name} as connection {connection.id}.")
