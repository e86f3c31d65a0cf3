"""``flask --app host demo``: the whole product on a generated store, through the real flows."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from host.hookspecs import hookimpl


@hookimpl
def register_commands(cli):
    cli.add_command(demo_command)


@click.command("demo")
@click.option("--once", is_flag=True, help="Run one full cycle, write the state if asked, and exit.")
@click.option("--seed", default=7, show_default=True, help="Same seed, same store.")
@click.option("--customers", default=300, show_default=True)
@click.option("--subscribers", default=120, show_default=True)
@click.option("--orders", default=600, show_default=True)
@click.option("--products", default=60, show_default=True)
@click.option("--state-out", type=click.Path(file_okay=False, path_type=Path),
              help="Write each emulator's /_emulator/state JSON here (bigcommerce.json, engagement_cloud.json).")
@click.option("--port", default=5000, show_default=True, help="The host's port (0: any free port; --once uses any).")
@click.option("--activity-seconds", default=15.0, show_default=True, help="How often the demo store changes.")
@with_appcontext
def demo_command(once, seed, customers, subscribers, orders, products, state_out, port, activity_seconds):
    """Start both emulators and a demo store, install and connect the app, and sync."""
    from demo import runner
    from demo.world import StoreSize, start_world

    size = StoreSize(seed=seed, customers=customers, subscribers=subscribers, orders=orders, products=products)
    instance = Path(current_app.instance_path) / "demo"
    host_port = 0 if once else port
    emulator_ports = (0, 0) if once else (port + 1, port + 2)
    world, app = start_world(size, instance, host_port=host_port, emulator_ports=emulator_ports)
    stop = threading.Event()
    scheduler = None
    try:
        with app.app_context():
            from host import migrations

            migrations.upgrade()
        runner.serve_host(world)
        runner.wait_until_healthy(world.host_url)
        click.echo(f"BigCommerce emulator     {world.bigcommerce.url}")
        click.echo(f"Engagement Cloud emulator {world.engagement_cloud.url}")
        click.echo(f"Host                     {world.host_url}")
        runner.register_app(world)
        runner.install(world)
        click.echo("Installed the app in the demo store.")
        runner.connect_and_configure(world)
        click.echo("Connected the demo Engagement Cloud account; chose books and programs.")
        runner.first_sync(app)
        if state_out:
            runner.write_state(world, state_out)
            click.echo(f"Wrote {state_out / 'bigcommerce.json'} and {state_out / 'engagement_cloud.json'}")
        if once:
            return
        from host.scheduler import HostScheduler

        scheduler = HostScheduler(app)
        scheduler.start()
        runner.keep_store_changing(world, stop, activity_seconds)
        click.echo("")
        click.echo(f"Settings pages: {world.host_url}/settings/store")
        click.echo(f"Log in as the demo merchant (as the control panel does): {runner.login_link(world)}")
        click.echo("The demo store keeps changing; syncs follow within seconds. Ctrl-C stops everything.")
        signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a service manager stops it cleanly too
        while not stop.wait(1):  # a short wait keeps Ctrl-C responsive
            pass
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("Stopping…")
        stop.set()
        if scheduler is not None:
            scheduler.shutdown()
        world.host_server.shutdown()
        world.stop()
