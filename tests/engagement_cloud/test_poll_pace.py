"""Imports are polled at Engagement Cloud's recommended pace in production (reference §7.2,
§10.2: every 5–30 s), whatever the tests, benchmarks and demo set for the emulator."""

from __future__ import annotations

from host.plugins import get_plugins
from plugins.engagement_cloud.config import Settings

from .conftest import DEMO, make_connection
from .test_contacts import contact_records


def test_a_long_import_is_polled_no_more_often_than_every_5_s_and_at_least_every_30_s(make_ec_app, emulator):
    defaults = Settings()
    # make_ec_app polls briskly for the emulator: give the plugin its shipped pace back.
    app = make_ec_app(poll_interval=defaults.poll_interval, poll_max_interval=defaults.poll_max_interval)
    with app.app_context():
        destination, mapper = get_plugins().destination("engagement_cloud"), get_plugins().mapper_for("engagement_cloud")
        connection = make_connection(DEMO)
        batch = contact_records(mapper, connection, range(1, 11))
        emulator.control("POST", "/stuck-imports", count=1)  # processing until released
        writer = destination.contact_writer(connection, book_id=None)
        now, sleeps = [0.0], []

        def sleep(seconds: float) -> None:  # the writer's waits, on a clock of its own
            sleeps.append(seconds)
            now[0] += seconds
            if now[0] >= 120:  # the import has taken two minutes
                for job in emulator.state()["imports"]:
                    emulator.control("POST", f"/imports/{job['id']}/release")

        writer._clock, writer._sleep = lambda: now[0], sleep
        results = writer.add(batch) + writer.finish()

    assert len(results) == 10 and all(r.ok for r in results)
    assert min(sleeps) >= 5 and max(sleeps) <= 30
    assert sleeps[0] == 5 and sleeps[-1] == 30  # starts at 5 s, grows to every 30 s
    assert emulator.requests()["GET /contacts/v3/import/{importId}"] == len(sleeps) <= 9
