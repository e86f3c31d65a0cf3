"""Start the two emulators, a local SMTP server and a host app wired to them, on loopback ports."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from emulators import bigcommerce as bigcommerce_emulator
from emulators import engagement_cloud as engagement_cloud_emulator
from emulators.common import RunningServer, start_server
from emulators.smtp import SmtpServer, start_smtp_server

STORE_HASH = "demo1234"
STORE_NAME = "Demo Outdoor Goods"
API_USER = "apiuser-demo@apiconnector.com"
API_PASSWORD = "demo-password"
CLIENT_ID = "connector-host-demo"
CUSTOMERS_BOOK = "BigCommerce customers"
SUBSCRIBERS_BOOK = "BigCommerce subscribers"
# The lifetime order fields the demo maps at set-up (Field mapping tab), each to the data field
# the page offers to create for it.
LIFETIME_DATA_FIELDS = {
    "order_count": "NUMBER_OF_ORDERS",
    "total_spent": "TOTAL_SPEND",
    "average_order_value": "AVERAGE_ORDER_VALUE",
    "first_order_date": "FIRST_ORDER_DATE",
    "last_order_date": "LAST_ORDER_DATE",
    "last_order_number": "LAST_ORDER_NUMBER",
}
PROGRAMS = {
    "new_customer": "Welcome new customers",
    "new_subscriber": "Welcome new subscribers",
    "first_order": "Thank you for your first order",
}


@dataclass
class StoreSize:
    seed: int = 7
    customers: int = 300
    subscribers: int = 120
    orders: int = 600
    products: int = 60


class _LateApp:
    """A WSGI app filled in after the server is bound, so the host can learn its own port first."""

    app: Flask | None = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@dataclass
class DemoWorld:
    bigcommerce: RunningServer
    engagement_cloud: RunningServer
    host_server: object  # werkzeug BaseWSGIServer
    host_url: str
    client_secret: str
    smtp: SmtpServer | None = None  # where the SMTP tab's "Test settings" sends: never the real relay

    @property
    def api_base_url(self) -> str:
        return self.engagement_cloud.url + "/r1"

    def stop(self) -> None:
        for server in (self.bigcommerce, self.engagement_cloud, self.smtp):
            if server is not None:
                server.stop()
        self.host_server.server_close()


def start_world(size: StoreSize, instance_path: Path, host_port: int = 0, emulator_ports: tuple[int, int] = (0, 0),
                smtp_port: int = 0):
    """Emulators with a fresh demo store and account, a local SMTP server (STARTTLS, any login; what it
    receives is written to ``instance_path/outbox``), and the host app for them (not yet serving)."""
    client_secret = secrets.token_urlsafe(24)
    store = bigcommerce_emulator.StoreSpec(
        store_hash=STORE_HASH, name=STORE_NAME, seed=size.seed, customers=size.customers,
        subscribers=size.subscribers, orders=size.orders, products=size.products,
    )
    # The demo's host listens on loopback http: the emulator accepts that webhook destination (the
    # real BigCommerce would not), and the host allows its insecure public URL (``_host_app``).
    bigcommerce = start_server(bigcommerce_emulator.create_app(stores=[store], modes={"webhook_destinations": "any"}),
                               port=emulator_ports[0])
    account = engagement_cloud_emulator.AccountSeed(
        api_user=API_USER,
        password=API_PASSWORD,
        address_books=[CUSTOMERS_BOOK, SUBSCRIBERS_BOOK],
        programs=[engagement_cloud_emulator.ProgramSeed(name=name, status="Active") for name in PROGRAMS.values()],
    )
    engagement_cloud = start_server(engagement_cloud_emulator.create_app(accounts=[account]), port=emulator_ports[1])
    shutil.rmtree(instance_path / "outbox", ignore_errors=True)
    smtp = start_smtp_server(instance_path / "smtp", port=smtp_port, outbox=instance_path / "outbox")

    late = _LateApp()
    host_server = make_server("127.0.0.1", host_port, late, threaded=True)
    host_url = f"http://127.0.0.1:{host_server.server_port}"
    world = DemoWorld(bigcommerce, engagement_cloud, host_server, host_url, client_secret, smtp)
    late.app = _host_app(world, instance_path)
    return world, late.app


def _host_app(world: DemoWorld, instance_path: Path) -> Flask:
    from host import create_app

    # A fresh database each time: the emulators start from a freshly generated store too.
    shutil.rmtree(instance_path / "db", ignore_errors=True)
    (instance_path / "db").mkdir(parents=True)
    return create_app(
        {
            "INSTANCE_PATH": str(instance_path),
            "DATABASE": {"url": f"sqlite:///{instance_path / 'db' / 'demo.db'}"},
            # Loopback http, not https on port 443: allowed for the demo, so its webhooks work.
            "HOST": {"public_url": world.host_url, "allow_insecure_public_url": True},
            "SCHEDULER": {"enabled": False},  # the demo starts its own, see demo.runner
            "PLUGINS": {
                "bigcommerce": {
                    "client_id": CLIENT_ID,
                    "client_secret": world.client_secret,
                    "login_base_url": world.bigcommerce.url,
                    "api_base_url": world.bigcommerce.url,
                },
                # The emulator finishes imports in a fraction of a second: poll it briskly (the
                # defaults are the production pace, every 5 s growing to 30 s).
                "engagement_cloud": {"api_base_url": world.api_base_url, "poll_interval": 0.25,
                                     "poll_max_interval": 2.0},
                # "Test settings" on the SMTP tab sends to the demo's own SMTP server, which has a
                # self-signed certificate: a newcomer's test email stays on this machine.
                "smtp": {"smtp_host_override": "127.0.0.1", "smtp_port_override": world.smtp.port,
                         "smtp_tls_insecure": True},
            },
        }
    )
