"""A field mapping change over loopback (both emulators, a live host, the real plugins): only the
contacts whose mapped values changed are sent again, counted in what Engagement Cloud imported."""

from __future__ import annotations

import copy
from typing import Any

from emulators.engagement_cloud import jobs
from host.db import db_session, get_db
from host.models import Connection
from host.plugins import get_plugins
from host.settings import get_settings
from host.sync import run_cycle
from host.sync.mapping_changes import resend_count, save_mapping
from tests.sync.loopback import StoreSize, connected_loop

SIZE = StoreSize(customers=150, subscribers=60, orders=220, products=5, seed=23)
DEFAULTS = {"first_name": "FIRSTNAME", "last_name": "LASTNAME", "billing_postcode": "POSTCODE"}


def imports_only(make_app):
    """The host with every contact write as an import, so the imports hold every write."""

    def make(**config):
        config["PLUGINS"]["engagement_cloud"]["single_upsert_max"] = 0
        return make_app(**config)

    return make


class ContactWrites:
    """The contacts Engagement Cloud imported since the last look (each import, as the emulator
    applies it)."""

    def __init__(self, monkeypatch):
        self.applied: list[dict[str, Any]] = []
        run = jobs.run_contact_import

        def recording(account, payload, now_iso):
            self.applied.extend(copy.deepcopy(payload["contacts"]))
            return run(account, payload, now_iso)

        monkeypatch.setattr(jobs, "run_contact_import", recording)

    def new(self) -> list[dict[str, Any]]:
        fresh, self.applied = self.applied, []
        return fresh


def emails(contacts: list[dict[str, Any]]) -> set[str]:
    return {contact["identifiers"]["email"].lower() for contact in contacts}


def change_mapping(app, connection_id: int, mapping: dict[str, str]) -> int:
    """Save ``mapping`` as the Field mapping tab does; answer the tab's "N contacts will be re-sent"."""
    with app.test_request_context():
        session = db_session()
        connection = session.get(Connection, connection_id)
        mapper = get_plugins().mapper_for(connection.destination)
        count = resend_count(session, connection, mapper, mapping)
        save_mapping(session, connection, mapper, mapping)
        session.commit()
        return count


def cycle(app, connection_id: int) -> None:
    with app.app_context():
        run = run_cycle(connection_id, trigger="cli")
    assert run.status == "finished", run.errors


def unmapped(app, connection_id: int) -> list[str]:
    with app.app_context(), get_db().transaction() as session:
        return get_settings(session, session.get(Connection, connection_id), "field_mapping")["unmapped"]


def test_a_mapping_change_re_sends_exactly_the_contacts_whose_mapped_values_changed(make_app, monkeypatch):
    writes = ContactWrites(monkeypatch)
    with connected_loop(imports_only(make_app), SIZE) as (app, emulators, connection_id):
        cycle(app, connection_id)
        backfill = writes.new()
        assert backfill and all("COMPANY" not in c["dataFields"] for c in backfill)
        with app.app_context(), get_db().transaction() as session:
            connection = session.get(Connection, connection_id)
            get_plugins().destination("engagement_cloud").create_data_field(connection, "COMPANY", "String")

        # Map COMPANY: exactly the contacts with a company are sent again, with it.
        told = change_mapping(app, connection_id, DEFAULTS | {"company": "COMPANY"})
        cycle(app, connection_id)
        mapped = writes.new()
        account = emulators.account()
        with_company = {c["email"].lower() for c in account["contacts"] if c["dataFields"].get("COMPANY")}
        store = emulators.store()
        registered_with_company = {c["email"].lower() for c in store["customers"] if (c.get("company") or "").strip()}
        assert registered_with_company and registered_with_company <= with_company
        assert emails(mapped) == with_company
        assert all(c["dataFields"].get("COMPANY") for c in mapped)
        assert told == len(with_company) < len(emails(backfill))

        # Unmap it: exactly those that had a value are sent again, once, with it cleared.
        told = change_mapping(app, connection_id, dict(DEFAULTS))
        assert unmapped(app, connection_id) == ["COMPANY"]
        cycle(app, connection_id)
        cleared = writes.new()
        assert emails(cleared) == with_company
        assert all(c["dataFields"]["COMPANY"] is None for c in cleared)
        assert not any(c["dataFields"].get("COMPANY") for c in emulators.account()["contacts"])
        assert told == len(with_company)
        assert unmapped(app, connection_id) == []  # done: later sends leave COMPANY alone

        # A field few contacts have: only they are sent again. Mapped and unmapped again before a
        # sync: nobody is (what was last sent did not change); nor by a cycle without change.
        with app.app_context(), get_db().transaction() as session:
            connection = session.get(Connection, connection_id)
            get_plugins().destination("engagement_cloud").create_data_field(connection, "SHIPPING_FAX", "String")
        told_fax = change_mapping(app, connection_id, DEFAULTS | {"shipping_fax": "SHIPPING_FAX"})
        cycle(app, connection_id)
        faxed = writes.new()
        with_fax = {c["email"].lower() for c in emulators.account()["contacts"] if c["dataFields"].get("SHIPPING_FAX")}
        assert with_fax and emails(faxed) == with_fax and told_fax == len(with_fax)
        assert all("COMPANY" not in c["dataFields"] for c in faxed)

        told = change_mapping(app, connection_id, DEFAULTS | {"shipping_fax": "SHIPPING_FAX", "notes": "FULLNAME"})
        assert told > 0
        told = change_mapping(app, connection_id, DEFAULTS | {"shipping_fax": "SHIPPING_FAX"})
        cycle(app, connection_id)
        assert told == 0 and writes.new() == []
        cycle(app, connection_id)
        assert writes.new() == []
        print(f"\nbackfill {len(backfill)} writes ({len(emails(backfill))} contacts); map COMPANY "
              f"{len(mapped)} writes ({len(emails(mapped))} contacts); unmap {len(cleared)} writes "
              f"({len(emails(cleared))} contacts); map SHIPPING_FAX {len(faxed)} writes "
              f"({len(emails(faxed))} contacts); mapped and unmapped again 0")
