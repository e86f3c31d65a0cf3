"""``flask --app host`` commands of the host itself; plugins add theirs through a hook."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from host import migrations
from host.plugins import PluginHost

db_cli = AppGroup("db", help="Create or upgrade the database schema.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade_command(revision: str) -> None:
    """Create the schema, or bring it up to date."""
    migrations.upgrade(revision)
    click.echo(f"database at {migrations.current_revision()}")


@db_cli.command("current")
def current_command() -> None:
    """Show the schema revision of the database."""
    click.echo(migrations.current_revision() or "empty")


def init_app(app: Flask, plugins: PluginHost) -> None:
    app.cli.add_command(db_cli)
    plugins.add_commands(app.cli)
