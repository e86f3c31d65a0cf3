"""Sessions only from verified callbacks, CSRF on every form, framing by the control panel only."""

from __future__ import annotations

from host.db import get_db
from host.models import Base
from tests.web.conftest import Merchant, install_store, load_connection, page_text
from tests.web.fakes import FakeShopPlugin


def test_pages_refuse_a_browser_without_a_merchant_session(web_app):
    client = web_app.test_client()
    for path in ("/settings/store", "/settings/connect", "/settings/field-mapping", "/settings/smtp",
                 "/settings/store/status"):
        response = client.get(path)
        assert response.status_code == 401, path
    assert "Open the app from your store's control panel" in page_text(client.get("/settings/store"))


def test_a_form_posted_without_its_csrf_token_changes_nothing(web_app, merchant):
    response = merchant.client.post("/settings/store/data-sync", data={"enabled": "off"})
    assert response.status_code == 400
    assert "This form expired" in page_text(response)
    assert load_connection(web_app, merchant.connection_id).sync_enabled is True

    response = merchant.client.post("/settings/store/remove", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert load_connection(web_app, merchant.connection_id) is not None


def _frame_ancestors(response) -> list[str]:
    policy = response.headers["Content-Security-Policy"]
    return next(part for part in policy.split("; ") if part.startswith("frame-ancestors")).split()[1:]


def test_only_the_control_panel_may_frame_the_pages(make_app, fake_cloud):
    """The enabled sources' declared control panels, and the store's own, as its source says."""
    app = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[fake_cloud, FakeShopPlugin()])
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    merchant = Merchant(app.test_client(), install_store(app, connect_as="api-staging@example.com"))
    response = merchant.get("/settings/store")
    policy = response.headers["Content-Security-Policy"]
    assert _frame_ancestors(response) == [
        "'self'", "https://*.bigcommerce.com", "https://store-abc123.mybigcommerce.com"
    ]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy  # no CDN can load


def test_no_control_panel_frames_the_pages_unless_an_enabled_source_names_it(web_app, merchant):
    """The host allows no platform of its own: without the store's source enabled, only 'self'."""
    assert _frame_ancestors(merchant.get("/settings/store")) == ["'self'"]


def test_session_cookie_works_inside_the_https_control_panel_iframe(make_app, fake_cloud):
    app = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[fake_cloud],
                   HOST={"public_url": "https://connector.example.com"})
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    store = install_store(app, connect_as="api-staging@example.com")
    response = Merchant(app.test_client(), store).get("/settings/store")
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie


def test_session_cookie_is_lax_on_plain_http(web_app, merchant):
    cookie = merchant.get("/settings/store").headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "Secure" not in cookie
