"""The client's rules for pausing and repeating calls (unit level, no server)."""

from __future__ import annotations

import pytest
import responses

from host.errors import TransientError
from plugins.engagement_cloud.client import ApiError, EngagementCloudClient, UncertainWriteError
from plugins.engagement_cloud.config import Settings
from plugins.engagement_cloud.throttle import AccountThrottle, reset_delay

BASE = "https://r1-api.dotdigital.com"


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def make_client(fake: FakeTime, **settings) -> EngagementCloudClient:
    throttle = AccountThrottle(clock=fake.clock, sleep=fake.sleep)
    return EngagementCloudClient(BASE + "/", "apiuser-1@apiconnector.com", "secret",
                                 Settings(retry_base_seconds=0.5, **settings), throttle=throttle, sleep=fake.sleep)


def test_reset_header_is_read_as_seconds_or_as_an_epoch():
    assert reset_delay({"X-RateLimit-Reset": "12"}) == 12
    assert reset_delay({"x-ratelimit-reset": "1700000030"}, now_epoch=1_700_000_000) == 30
    assert reset_delay({}) is None


@responses.activate
def test_a_spent_window_pauses_the_next_call_until_it_resets():
    fake = FakeTime()
    client = make_client(fake)
    responses.get(f"{BASE}/v2/data-fields", json=[], headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "7"})

    client.get("/v2/data-fields")
    client.get("/v2/data-fields")

    assert fake.slept == [7.0]  # the second call waited for the window, the first did not


@responses.activate
def test_a_429_is_repeated_after_the_advertised_pause():
    fake = FakeTime()
    client = make_client(fake)
    responses.put(f"{BASE}/contacts/v3/import", status=429, headers={"X-RateLimit-Reset": "3"},
                  json={"errorCode": "contacts:tooManyActiveImports", "description": "Too many active imports"})
    responses.put(f"{BASE}/contacts/v3/import", status=202, json={"importId": "abc"})

    assert client.send("PUT", "/contacts/v3/import", json={}).body == {"importId": "abc"}
    assert fake.slept == [3.0]


@responses.activate
def test_a_5xx_on_a_write_that_is_not_idempotent_is_not_repeated():
    fake = FakeTime()
    client = make_client(fake)
    responses.post(f"{BASE}/v2/programs/enrolments", status=503, json={"message": "An error has occurred. ERROR_UNKNOWN"})

    with pytest.raises(UncertainWriteError):
        client.send("POST", "/v2/programs/enrolments", json={}, idempotent=False)
    assert len(responses.calls) == 1


@responses.activate
def test_5xx_on_a_read_is_repeated_with_growing_jittered_pauses_then_given_up():
    fake = FakeTime()
    client = make_client(fake, max_attempts=4)
    responses.get(f"{BASE}/v2/address-books", status=500, json={"message": "An error has occurred. ERROR_UNKNOWN"})

    with pytest.raises(TransientError) as gave_up:
        client.get("/v2/address-books")

    assert len(responses.calls) == 4
    assert [0.25 <= fake.slept[0] <= 0.5, 0.5 <= fake.slept[1] <= 1.0, 1.0 <= fake.slept[2] <= 2.0] == [True] * 3
    assert "secret" not in str(gave_up.value)


@responses.activate
def test_other_4xx_answers_carry_the_service_error_code():
    client = make_client(FakeTime())
    responses.post(f"{BASE}/v2/data-fields", status=400, json={"message": "Field already exists. ERROR_NON_UNIQUE_DATAFIELD"})

    with pytest.raises(ApiError) as refused:
        client.send("POST", "/v2/data-fields", json={})
    assert (refused.value.status, refused.value.code) == (400, "ERROR_NON_UNIQUE_DATAFIELD")
