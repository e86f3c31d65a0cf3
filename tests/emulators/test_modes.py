"""Emulator modes are chosen by environment, by ``create_app`` and at run time, and a bad one
is refused with its name."""

from __future__ import annotations

import pytest

from emulators.bigcommerce import create_app as bigcommerce_app
from emulators.bigcommerce.generator import StoreSpec
from emulators.engagement_cloud import create_app as engagement_cloud_app

SMALL = StoreSpec(customers=2, subscribers=1, orders=2, products=1)


def test_bigcommerce_modes_from_environment_then_create_app_then_control(monkeypatch):
    monkeypatch.setenv("BIGCOMMERCE_EMULATOR_MODES", "order_max_date_modified=exclusive, max_page_size=100")
    client = bigcommerce_app([SMALL], modes={"max_page_size": 50}).test_client()
    modes = client.get("/_emulator/modes").get_json()
    assert modes["order_max_date_modified"] == {"value": "exclusive", "choices": ["inclusive", "exclusive"]}
    assert modes["max_page_size"]["value"] == 50
    answer = client.patch("/_emulator/modes", json={"order_is_deleted": "refused"})
    assert answer.status_code == 200 and answer.get_json()["order_is_deleted"]["value"] == "refused"


@pytest.mark.parametrize("change, named", [({"order_is_deleted": "sometimes"}, "order_is_deleted"),
                                           ({"no_such_mode": 1}, "no_such_mode"),
                                           ({"max_page_size": "many"}, "max_page_size")])
def test_a_bad_mode_is_refused_by_name_and_changes_nothing(change, named):
    client = bigcommerce_app([SMALL]).test_client()
    answer = client.patch("/_emulator/modes", json=change)
    assert answer.status_code == 422 and named in answer.get_json()["error"]
    assert client.get("/_emulator/modes").get_json()["order_is_deleted"]["value"] == "honoured"


def test_engagement_cloud_modes_survive_nothing_but_reset(monkeypatch):
    monkeypatch.setenv("ENGAGEMENT_CLOUD_EMULATOR_MODES", "consent_records=deduplicated")
    client = engagement_cloud_app().test_client()
    assert client.get("/_emulator/modes").get_json()["consent_records"]["value"] == "deduplicated"
    client.patch("/_emulator/modes", json={"data_field_types": "lenient"})
    assert client.get("/_emulator/modes").get_json()["data_field_types"]["value"] == "lenient"
    client.post("/_emulator/reset")
    assert client.get("/_emulator/modes").get_json()["data_field_types"]["value"] == "enforced"


def test_a_bad_environment_mode_stops_the_emulator_at_start(monkeypatch):
    monkeypatch.setenv("ENGAGEMENT_CLOUD_EMULATOR_MODES", "consent_records")
    with pytest.raises(ValueError, match="name=value"):
        engagement_cloud_app()
