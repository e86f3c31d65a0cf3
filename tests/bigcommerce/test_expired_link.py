"""An expired, reused or tampered login link says so in a merchant's words, on the app's own page,
framed by the control panel like every other page: never a server's generic 401 text."""

from __future__ import annotations

import re
import time

from tests.bigcommerce.test_app_callbacks import _token

EXPIRED = "This link has expired: open the app again from your BigCommerce control panel."
GENERIC_401 = "The server could not verify that you are authorized"


def words(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def assert_expired_page(response) -> None:
    assert response.status_code == 401
    assert response.mimetype == "text/html"
    text = words(response)
    assert EXPIRED in text and "Open the app from your control panel" in text
    assert GENERIC_401 not in text and "Unauthorized" not in text
    # framed by the control panel like the other pages, styled by the app's own stylesheet
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://*.bigcommerce.com" in policy
    assert "X-Frame-Options" not in response.headers
    assert '<link rel="stylesheet"' in response.get_data(as_text=True)


def test_an_expired_login_link_says_so_plainly(bigcommerce):
    bigcommerce.panel("install")
    now = int(time.time())
    expired = _token(iat=now - 90000, nbf=now - 90005, exp=now - 3600)

    response = bigcommerce.app.test_client().get("/bigcommerce/load", query_string={"signed_payload_jwt": expired})

    assert_expired_page(response)


def test_a_tampered_or_missing_link_says_the_same(bigcommerce):
    bigcommerce.panel("install")
    client = bigcommerce.app.test_client()
    for query in ({"signed_payload_jwt": _token(secret="not-the-apps-secret-but-just-as-long-as-it")},
                  {"signed_payload_jwt": "not.a.jwt"}, {}):
        assert_expired_page(client.get("/bigcommerce/load", query_string=query))


def test_a_reused_login_link_never_shows_a_generic_error(bigcommerce):
    bigcommerce.panel("install")
    token = _token(user={"id": 1, "email": "owner@example.com"})
    first = bigcommerce.app.test_client().get("/bigcommerce/load", query_string={"signed_payload_jwt": token})
    assert first.status_code == 302  # signed in

    again = bigcommerce.app.test_client().get("/bigcommerce/load", query_string={"signed_payload_jwt": token})

    if again.status_code == 401:  # a link is accepted once: a second use is an expired link
        assert_expired_page(again)
    else:
        assert again.status_code == 302
