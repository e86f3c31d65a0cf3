"""``flask --app host demo``: the whole product on a generated store, through the real flows."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from host.hookspecs import hookimpl


@hookimpl
def register_commands(cli):
    cli.add_command(demo_command)
    cli.add_command(demo_link_command)


@click.command("demo")
@click.option("--once", is_flag=True, help="Run one full cycle, write the state if asked, and exit.")
@click.option("--seed", default=7, show_default=True, help="Same seed, same store.")
@click.option("--customers", default=300, show_default=True)
@click.option("--subscribers", default=120, show_default=True)
@click.option("--orders", default=600, show_default=True)
@click.option("--products", default=60, show_default=True)
@click.option("--state-out", type=click.Path(file_okay=False, path_type=Path),
              help="Write each emulator's /_emulator/state JSON here (bigcommerce.json, engagement_cloud.json).")
@click.option("--port", default=5000, show_default=True,
              help="The host's port; the emulators take the next two (0: any free ports; --once uses any).")
@click.option("--activity-seconds", default=15.0, show_default=True, help="How often the demo store changes.")
@click.option("--request-log", "--verbose", "-v", "request_log", is_flag=True,
              help="Show every request to the host and both emulators (off: only the status and the login link).")
@with_appcontext
def demo_command(once, seed, customers, subscribers, orders, products, state_out, port, activity_seconds,
                 request_log):
    """Start both emulators, a local SMTP server and a demo store, install and connect the app, and sync.

    The login link is printed last; press Enter for a fresh one, or run `flask --app host demo-link`.
    """
    from demo import runner
    from demo.console import (
        DemoConsole,
        DemoSession,
        configure_request_log,
        listen_for_keys,
        remove_session,
        sync_summary,
    )
    from demo.world import CLIENT_ID, STORE_HASH, STORE_NAME, StoreSize, start_world

    configure_request_log(request_log)
    console = DemoConsole()
    size = StoreSize(seed=seed, customers=customers, subscribers=subscribers, orders=orders, products=products)
    instance = Path(current_app.instance_path) / "demo"
    host_port = 0 if once else port
    emulator_ports = (0, 0) if once or not port else (port + 1, port + 2)
    world, app = start_world(size, instance, host_port=host_port, emulator_ports=emulator_ports)
    stop = threading.Event()
    scheduler = None
    try:
        with app.app_context():
            from host import migrations

            migrations.upgrade()
        runner.serve_host(world)
        runner.wait_until_healthy(world.host_url)
        console.echo(
            "Started:",
            f"  BigCommerce emulator       {world.bigcommerce.url}   store {STORE_NAME!r}: {customers} customers, "
            f"{subscribers} subscribers, {orders} orders, {products} products",
            f"  Engagement Cloud emulator  {world.engagement_cloud.url}",
            f"  SMTP test server           127.0.0.1:{world.smtp.port}   STARTTLS, any login; "
            f"mail stays here, in {_shown(instance / 'outbox')}",
            f"  Host                       {world.host_url}",
        )
        runner.register_app(world)
        runner.install(world)
        console.echo("Installed the app in the demo store.")
        browser = runner.connect_and_configure(world)
        console.echo("Connected the demo Engagement Cloud account; chose address books and programs.")
        runner.map_lifetime_fields(browser, world)
        console.echo("Mapped the lifetime order fields on the Field mapping tab.")
        run = runner.first_sync_run(app, show_progress=sys.stdout.isatty())
        console.echo(*sync_summary(run))
        if run.status != "finished":
            raise runner.DemoError("the first sync did not finish cleanly; see the Store tab")
        if state_out:
            runner.write_state(world, state_out)
            console.echo(f"Wrote {state_out / 'bigcommerce.json'} and {state_out / 'engagement_cloud.json'}")
        if once:
            return
        from host.scheduler import HostScheduler

        scheduler = HostScheduler(app)
        scheduler.start()
        runner.keep_store_changing(world, stop, activity_seconds)
        session = DemoSession(world.host_url, CLIENT_ID, world.client_secret, STORE_HASH, os.getpid())
        session.write(instance)
        world.smtp.mailbox.on_message = lambda message: console.echo(
            "", f"The demo SMTP server received a test email for {', '.join(message['to'])}: "
            f"{_shown(Path(message['path']))}")
        console.ready(
            lambda: runner.login_link(world),
            "",
            "Ready.",
            f"  Settings pages: {world.host_url}/settings/store (open them with the login link below)",
            f"  The demo store changes every {activity_seconds:g} s; syncs follow within seconds.",
            "  Enter: a fresh login link · `flask --app host demo-link`: one from another terminal · Ctrl-C: stop",
            *([] if request_log else ["  Request logs are off: `--request-log` shows them."]),
        )
        listen_for_keys(console, stop)
        signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a service manager stops it cleanly too
        while not stop.wait(1):  # a short wait keeps Ctrl-C responsive
            pass
    except KeyboardInterrupt:
        pass
    finally:
        remove_session(instance)
        if not once:
            click.echo("Stopping…")
        stop.set()
        if scheduler is not None:
            scheduler.shutdown()
        world.host_server.shutdown()
        world.stop()


@click.command("demo-link")
@with_appcontext
def demo_link_command():
    """Print a fresh login link for the demo merchant of the demo running here (`make run`)."""
    from demo.console import DemoSession, link_line
    from emulators.bigcommerce import signed_payload_jwt
    from emulators.bigcommerce.accounts import store_users

    session = DemoSession.read(Path(current_app.instance_path) / "demo")
    if session is None or not session.is_running():
        raise click.ClickException("no demo is running with this instance folder: start one with `make run`.")
    users = store_users(session.store_hash)
    token = signed_payload_jwt(session.client_id, session.client_secret, session.store_hash,
                               users["owner"], users["owner"], "/", None)
    click.echo(link_line(f"{session.host_url}/bigcommerce/load?signed_payload_jwt={token}"))


def _shown(path: Path) -> str:
    """A path as short as it can be said: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
