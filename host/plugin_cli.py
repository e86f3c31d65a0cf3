"""``flask --app host plugins``: what is enabled, from which distribution, adding what."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("plugins")
@with_appcontext
def plugins_command() -> None:
    """List the enabled plugins: distribution and version, what they add, the hooks they implement."""
    host = current_app.extensions["host.plugins"]
    for info in host.describe():
        version = f"{info.distribution} {info.version}" if info.distribution else info.version
        click.echo(f"{info.name}  ({version})")
        click.echo(f"  kinds: {', '.join(info.kinds)}")
        click.echo(f"  hooks: {', '.join(info.hooks) or 'none'}")
    if host.not_enabled:
        click.echo(f"installed but not enabled: {', '.join(host.not_enabled)}")
