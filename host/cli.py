"""``flask --app host`` commands of the host itself; plugins add theirs through a hook."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from host import migrations
from host.plugin_cli import plugins_command
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


@click.command("sync")
@click.argument("store_hash", metavar="ACCOUNT")
@click.option("--source", default=None, metavar="NAME",
              help="The source plugin of the store (needed when two sources have a store with this id).")
@click.option("--full", is_flag=True, help="Read every stream from the start (unchanged records are still not re-sent).")
@with_appcontext
def sync_command(store_hash: str, source: str | None, full: bool) -> None:
    """Run one sync cycle of the store's connection now, in the foreground.

    ACCOUNT is the store's id in its source (the account id its install saved, e.g. a store hash)."""
    from host.sync.console import run_cycle_with_progress

    raise SystemExit(run_cycle_with_progress(store_hash, source=source, full=full))


@click.command("login-link")
@click.argument("account")
@click.option("--source", default=None, metavar="NAME",
              help="The source plugin of the store (needed when two sources have a store with this id).")
@click.option("--minutes", default=15, show_default=True, type=click.IntRange(1, 24 * 60),
              help="How long the link can be used (it signs in once).")
@with_appcontext
def login_link_command(account: str, source: str | None, minutes: int) -> None:
    """Print a sign-in link to the settings pages of the store's connection, for its merchant.

    The link is on [host] public_url, signed with the app's secret key, works once and expires
    after --minutes. Whoever opens it manages the connection: give it to the merchant only."""
    from flask import current_app

    from host.connections import find_by_account
    from host.db import get_db
    from host.web.login_link import make_link

    with get_db().transaction() as session:
        try:
            connection = find_by_account(session, account, source)
        except LookupError as error:
            raise click.ClickException(str(error)) from None
        try:
            link = make_link(current_app._get_current_object(), connection, minutes=minutes)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    click.echo(link)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduler alone (production): cycles, "Sync now" and the webhook fast lane."""
    import signal
    import threading

    from flask import current_app

    from host.scheduler import HostScheduler

    scheduler = HostScheduler(current_app._get_current_object())
    scheduler.start()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo("scheduler running; Ctrl+C to stop")
    stop.wait()
    scheduler.shutdown()


@click.command(
    "worker", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def worker_command(celery_args: tuple[str, ...]) -> None:
    """Run a worker for sync tasks ([host] executor = "celery"); start as many as needed, on
    any machines sharing the database. Other options go to Celery's worker (--concurrency 4)."""
    from flask import current_app

    from host.executors import executor_name

    app = current_app._get_current_object()
    if executor_name(app) != "celery":
        raise click.ClickException(
            'workers serve the "celery" executor: set [host] executor = "celery" and [host] '
            "broker_url (or HOST_HOST__EXECUTOR and HOST_HOST__BROKER_URL)"
        )
    from host.executors.celery_app import run_worker

    run_worker(app, list(celery_args))


def init_app(app: Flask, plugins: PluginHost) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(sync_command)
    app.cli.add_command(login_link_command)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(plugins_command)
    plugins.add_commands(app.cli)
