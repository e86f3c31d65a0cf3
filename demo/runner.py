"""The demo, step by step, through the same flows a merchant goes through."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from pathlib import Path

import click
import requests
from sqlalchemy import select

from demo.browser import Browser
from demo.world import (
    API_PASSWORD,
    API_USER,
    CLIENT_ID,
    CUSTOMERS_BOOK,
    LIFETIME_DATA_FIELDS,
    PROGRAMS,
    STORE_HASH,
    SUBSCRIBERS_BOOK,
    DemoWorld,
)
from emulators.bigcommerce import signed_payload_jwt
from emulators.bigcommerce.accounts import store_users

PROGRAM_FIELDS = {
    "new_customer": "new_customer_program_id",
    "new_subscriber": "new_subscriber_program_id",
    "first_order": "first_order_program_id",
}


class DemoError(click.ClickException):
    """A step of the demo did not do what it should; the message says which."""


def register_app(world: DemoWorld) -> None:
    """The app as its developer registers it in the BigCommerce Developer Portal."""
    callbacks = {name: f"{world.host_url}/bigcommerce/{name}" for name in ("auth", "load", "uninstall", "remove_user")}
    response = requests.post(
        f"{world.bigcommerce.url}/_emulator/apps",
        json={
            "client_id": CLIENT_ID,
            "client_secret": world.client_secret,
            "auth_callback": callbacks["auth"],
            "load_callback": callbacks["load"],
            "uninstall_callback": callbacks["uninstall"],
            "remove_user_callback": callbacks["remove_user"],
        },
        timeout=30,
    )
    response.raise_for_status()


def install(world: DemoWorld) -> None:
    """The store owner clicks Install in the control panel."""
    response = requests.post(
        f"{world.bigcommerce.url}/_emulator/control-panel/install",
        json={"client_id": CLIENT_ID, "store_hash": STORE_HASH, "user": "owner"},
        timeout=120,
    )
    result = response.json()
    if result.get("status") != 200 or not result.get("code_exchanged"):
        raise DemoError(f"install did not complete: {result.get('status')} {result.get('error') or result.get('body', '')[:300]}")


def login_link(world: DemoWorld) -> str:
    """What the control panel opens when the owner clicks the app: the load callback, signed."""
    users = store_users(STORE_HASH)
    token = signed_payload_jwt(CLIENT_ID, world.client_secret, STORE_HASH, users["owner"], users["owner"], "/", None)
    return f"{world.host_url}/bigcommerce/load?signed_payload_jwt={token}"


def connect_and_configure(world: DemoWorld) -> Browser:
    """Open the app, enter the Engagement Cloud API user, choose books and programs, save."""
    browser = Browser()
    browser.open(login_link(world))
    form = browser.form("password")
    form.fields.update({"username": API_USER, "password": API_PASSWORD})
    browser.submit(form)
    if "/settings/store" not in browser.page.url:
        raise DemoError(f"connecting the Engagement Cloud account failed; the page says: {_text(browser)}")

    form = browser.form("customers_book_id")
    form.choose("customers_book_id", CUSTOMERS_BOOK)
    form.choose("subscribers_book_id", SUBSCRIBERS_BOOK)
    for trigger, name in PROGRAMS.items():
        if PROGRAM_FIELDS[trigger] in form.options:
            form.choose(PROGRAM_FIELDS[trigger], name)
    browser.submit(form)
    if browser.page.status_code != 200 or 'aria-invalid="true"' in browser.page.text:
        raise DemoError(f"saving the Store tab failed: {_text(browser)}")
    if "automation" not in browser.page.text.lower() and any(f in form.options for f in PROGRAM_FIELDS.values()):
        return browser
    _save_programs_if_separate(browser)
    return browser


def _save_programs_if_separate(browser: Browser) -> None:
    """The Automation section may be its own form; fill it when it is."""
    try:
        form = browser.form(PROGRAM_FIELDS["new_customer"])
    except LookupError:
        return
    if all(form.fields.get(field) for field in PROGRAM_FIELDS.values()):
        return
    for trigger, name in PROGRAMS.items():
        form.choose(PROGRAM_FIELDS[trigger], name)
    browser.submit(form)


def map_lifetime_fields(browser: Browser, world: DemoWorld) -> None:
    """On the Field mapping tab, map the lifetime order fields (unmapped by default), each to
    its data field, creating the ones the account lacks with the row's Create button."""
    page = f"{world.host_url}/settings/field-mapping"
    for key, name in LIFETIME_DATA_FIELDS.items():
        browser.open(page)
        form = browser.form(f"map.{key}")
        if any(value == name for value, _ in form.options[f"map.{key}"]):
            continue
        if ("create", key) not in form.buttons:
            raise DemoError(f"the Field mapping tab offers no data field {name} for {key}: {_text(browser)}")
        form.action = f"{world.host_url}/settings/field-mapping/data-fields"
        browser.submit(form, ("create", key))
        if "aria-invalid" in browser.page.text or "could not be created" in browser.page.text:
            raise DemoError(f"creating the data field {name} failed: {_text(browser)}")
    browser.open(page)
    form = browser.form(f"map.{next(iter(LIFETIME_DATA_FIELDS))}")
    form.fields.update({f"map.{key}": name for key, name in LIFETIME_DATA_FIELDS.items()})
    browser.submit(form)
    confirm = [value for name, value in browser.form("map.order_count").buttons if name == "confirm"]
    if confirm:  # contacts were sent already: the page asks to confirm the re-send
        browser.submit(browser.form("map.order_count"), ("confirm", confirm[0]))
    if "Field mapping saved" not in browser.page.text:
        raise DemoError(f"saving the lifetime order fields on the Field mapping tab failed: {_text(browser)}")


def _text(browser: Browser) -> str:
    import re

    return " ".join(re.sub(r"<[^>]+>", " ", browser.page.text).split())[:400]


def first_sync(app) -> None:
    from host.sync.console import run_cycle_with_progress

    with app.app_context():
        code = run_cycle_with_progress(STORE_HASH)
    if code != 0:
        raise DemoError(f"the first sync did not finish cleanly (exit code {code}); see the Store tab")


def first_sync_run(app, show_progress: bool = False):
    """The first sync, told briefly: a transient progress line per stream on a terminal (nothing
    otherwise); answers the finished ``SyncRun`` for ``demo.console.sync_summary``."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from host.sync.cycle import run_cycle

    cid = connection_id(app)
    with app.app_context(), Progress(
        SpinnerColumn(), TextColumn("First sync: {task.description:<12} {task.fields[counts]}"), TimeElapsedColumn(),
        console=Console(), transient=True, disable=not show_progress,
    ) as progress:
        tasks: dict[str, int] = {}

        def report(stream: str, counts: dict[str, int]) -> None:
            if stream not in tasks:
                tasks[stream] = progress.add_task(stream, total=None, counts="")
            text = "  ".join(f"{key} {value}" for key, value in counts.items() if value)
            progress.update(tasks[stream], counts=text)

        run = run_cycle(cid, trigger="cli", progress=report)
    if run is None:
        raise DemoError("the first sync could not start: another cycle holds the connection, or its sync is off")
    return run


def connection_id(app) -> int:
    from host.db import get_db
    from host.models import Connection

    with app.app_context(), get_db().transaction() as session:
        return session.scalar(select(Connection.id).where(Connection.source_account == STORE_HASH))


def write_state(world: DemoWorld, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, server in (("bigcommerce", world.bigcommerce), ("engagement_cloud", world.engagement_cloud)):
        response = requests.get(f"{server.url}/_emulator/state", timeout=120)
        response.raise_for_status()
        (folder / f"{name}.json").write_text(json.dumps(response.json(), indent=1, ensure_ascii=False))


UNSUBSCRIBE_EVERY = 3  # ticks of the store's activity between two unsubscribes in Engagement Cloud
DELETE_EVERY = 4  # ticks between two deletions in the store (a customer, then a subscriber, in turn)
ORDER_CHANGE_EVERY = 2  # ticks between two changes of an existing order (a partial refund, an archive)


def keep_store_changing(world: DemoWorld, stop: threading.Event, every_seconds: float) -> threading.Thread:
    """A little store life: a new customer, an order and a newsletter signup now and then; every
    few turns a subscriber unsubscribes in Engagement Cloud (from the subscribers book or from
    everything, in turn), a customer or a subscriber is deleted in the store, and an order is
    partly refunded or archived (the lifetime order fields follow)."""

    def loop():
        tick = 0
        while not stop.wait(every_seconds):
            tick += 1
            with contextlib.suppress(requests.RequestException):  # the emulator is stopping
                requests.post(
                    f"{world.bigcommerce.url}/_emulator/stores/{STORE_HASH}/activity",
                    json={"customers": 1, "orders": 1, "subscribers": 1, "updates": 1,
                          "deletions": int(tick % DELETE_EVERY == 0)},
                    timeout=30,
                )
                if tick % UNSUBSCRIBE_EVERY == 0:
                    unsubscribe_someone(world, from_book=(tick // UNSUBSCRIBE_EVERY) % 2 == 1)
                if tick % ORDER_CHANGE_EVERY == 0:
                    change_an_order(world, archive=(tick // ORDER_CHANGE_EVERY) % 2 == 0)

    thread = threading.Thread(target=loop, name="demo-store-activity", daemon=True)
    thread.start()
    return thread


def unsubscribe_someone(world: DemoWorld, from_book: bool, rng: random.Random | None = None) -> str | None:
    """A contact of the subscribers book unsubscribes in Engagement Cloud (a link in an email):
    from that book only, or from everything. Answers the email, or None when the book is empty."""
    url = world.engagement_cloud.url
    account = requests.get(f"{url}/_emulator/state", timeout=60).json()["accounts"][0]
    book = next(b for b in account["address_books"] if b["name"] == SUBSCRIBERS_BOOK)
    members = set(book["contacts"])
    emails = sorted(c["email"] for c in account["contacts"] if c["id"] in members and c["status"] == "subscribed")
    if not emails:
        return None
    email = (rng or random).choice(emails)
    response = requests.post(f"{url}/_emulator/accounts/{API_USER}/contacts/{email}/unsubscribe",
                             json={"address_book_id": book["id"]} if from_book else {}, timeout=30)
    response.raise_for_status()
    return email


def change_an_order(world: DemoWorld, archive: bool, rng: random.Random | None = None) -> int | None:
    """An order picked at random is archived, or refunded a little (5.00). Answers its id."""
    url = f"{world.bigcommerce.url}/_emulator"
    [store] = requests.get(f"{url}/state", params={"summary": 1, "store": STORE_HASH}, timeout=30).json()["stores"]
    if not store["orders"]:
        return None
    order_id = (rng or random).randint(1, store["orders"])  # orders are archived, never removed: ids 1..n
    change = {"is_deleted": True} if archive else {"refunded_amount": "5.00", "payment_status": "partially refunded"}
    response = requests.put(f"{url}/stores/{STORE_HASH}/orders/{order_id}", json=change, timeout=30)
    response.raise_for_status()
    return order_id


def serve_host(world: DemoWorld) -> threading.Thread:
    thread = threading.Thread(target=world.host_server.serve_forever, name="demo-host", daemon=True)
    thread.start()
    return thread


def wait_until_healthy(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise DemoError(f"the host at {url} did not become healthy")
