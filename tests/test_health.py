import logging

import pytest


def test_healthz_reports_database_and_scheduler(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert "status" in body["scheduler"]
    assert {"bigcommerce", "engagement_cloud", "smtp"} <= set(body["plugins"])


@pytest.mark.parametrize("url, problem", [
    ("http://connector.example.com", "uses http, not https"),
    ("https://connector.example.com:8443", "uses port 8443, not 443"),
    ("http://connector.example.com:443", "uses http, not https"),
    ("", "is not set"),
])
def test_healthz_names_a_public_url_webhooks_cannot_reach_and_stays_up(make_app, url, problem):
    response = make_app(HOST={"public_url": url}).test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"
    public_url = response.get_json()["public_url"]
    assert public_url["status"] == "problem"
    assert problem in public_url["problem"] and "must be https on port 443" in public_url["problem"]


@pytest.mark.parametrize("url", ["https://connector.example.com", "https://connector.example.com:443/base"])
def test_healthz_is_content_with_https_on_port_443(make_app, url):
    assert make_app(HOST={"public_url": url}).test_client().get("/healthz").get_json()["public_url"] == {
        "status": "ok", "url": url,
    }


def test_an_insecure_public_url_allowed_by_the_admin_is_reported_as_such(make_app):
    app = make_app(HOST={"public_url": "http://127.0.0.1:5000", "allow_insecure_public_url": True})
    assert app.test_client().get("/healthz").get_json()["public_url"]["status"] == "insecure allowed"


def test_start_up_warns_once_about_the_public_url_without_its_credentials(make_app, caplog):
    with caplog.at_level(logging.INFO, logger="host"):
        app = make_app(HOST={"public_url": "https://admin:hunter2@connector.example.com:8443/app?token=abc"})
        app.test_client().get("/healthz")
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "https://connector.example.com:8443/app" in warnings[0] and "port 8443" in warnings[0]
    assert "allow_insecure_public_url" in warnings[0]
    assert "hunter2" not in caplog.text and "token=abc" not in caplog.text
    shown = app.test_client().get("/healthz").get_json()["public_url"]
    assert "hunter2" not in str(shown) and "token=abc" not in str(shown)


def test_start_up_does_not_warn_about_a_good_public_url(make_app, caplog):
    with caplog.at_level(logging.INFO, logger="host"):
        make_app(HOST={"public_url": "https://connector.example.com"})
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
