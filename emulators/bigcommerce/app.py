"""The BigCommerce emulator as one Flask app (one port for the login service and the APIs).

Base URLs, for a server on port P: login ``http://127.0.0.1:P`` (``POST /oauth2/token``),
API ``http://127.0.0.1:P`` (``/stores/{hash}/v2/...``, ``/stores/{hash}/v3/...``),
emulator controls ``http://127.0.0.1:P/_emulator/...``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from emulators.common import (
    FaultInjector,
    FaultSettings,
    RequestCounter,
    install_faults,
    install_request_counting,
)
from emulators.modes import resolve as resolve_modes

from . import (
    api_brands_categories,
    api_catalog,
    api_customers,
    api_hooks,
    api_legacy_v2,
    api_order_resources,
    api_orders,
    api_subscribers,
    control,
)
from .accounts import FULL_SCOPES, Accounts
from .context import Emulator, emulator, guard_api
from .control_panel import ControlPanel
from .generator import StoreSpec
from .listing import BadRequest, LimitTooLarge
from .modes import ENV_VAR as MODES_ENV_VAR
from .modes import Modes
from .ratelimit import RateLimiter, RateLimitSettings
from .responses import api_error, is_v2_path, json_response, v2_error, v3_error
from .store import Store
from .webhooks import DOCUMENTED_RETRY_DELAYS, WebhookDispatcher

DEFAULT_TOKEN = "bc-emulator-token"
DEFAULT_CLIENT_ID = "bc-emulator-api-account"


def create_app(stores: list[StoreSpec] | None = None, *, access_token: str | None = DEFAULT_TOKEN,
               apps: list[dict] | None = None, rate_limit: tuple[int, int] | None = None,
               latency_ms: int = 0, faults: dict | None = None, webhook_retry_scale: float = 1.0,
               webhook_retry_delays: tuple[int, ...] = DOCUMENTED_RETRY_DELAYS,
               modes: Modes | dict | None = None) -> Flask:
    """Build the emulator.

    stores: what to generate (default: one small store, ``StoreSpec()``).
    access_token: an API-account token with every scope on every store (None: none).
    apps: app registrations (see ``accounts.AppRegistration`` fields).
    rate_limit: (quota, window_seconds), e.g. (150, 30); None = off (headers still sent).
    latency_ms / faults: initial ``FaultSettings``; webhook_retry_scale multiplies the
    documented retry delays (use e.g. 0.001 in tests).
    modes: the UNCONFIRMED readings to play (``modes.Modes`` or a dict of its fields; over
    the ``BIGCOMMERCE_EMULATOR_MODES`` environment variable and the defaults).

    Behind a TLS proxy, links (e.g. an order's sub-resource ``url``) use the forwarded scheme
    and host: werkzeug's ``ProxyFix`` trusts ``X-Forwarded-For``/``-Proto``/``-Host`` from one
    proxy hop, with no check of who sent them (an emulator: fine).
    """
    app = Flask("bigcommerce_emulator")
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.json.sort_keys = False
    accounts = Accounts()
    specs = stores or [StoreSpec()]
    for app_settings in apps or []:
        accounts.register_app(**app_settings)
    for spec in specs:
        if access_token:
            accounts.add_token(access_token, spec.store_hash, DEFAULT_CLIENT_ID, FULL_SCOPES)
    limiter = RateLimiter(RateLimitSettings(enabled=bool(rate_limit), quota=rate_limit[0] if rate_limit else 150,
                                            window_ms=rate_limit[1] * 1000 if rate_limit else 30_000))
    fault_injector = FaultInjector(FaultSettings(latency_ms=latency_ms, **(faults or {})))
    state = Emulator(
        stores={spec.store_hash: Store(spec) for spec in specs}, accounts=accounts, limiter=limiter,
        faults=fault_injector, counter=RequestCounter(),
        dispatcher=WebhookDispatcher(lambda client_id: _secret_for(accounts, client_id),
                                     webhook_retry_delays, webhook_retry_scale),
        modes=resolve_modes(Modes, MODES_ENV_VAR, modes),
    )
    app.extensions["bigcommerce_emulator"] = state
    app.extensions["bigcommerce_control_panel"] = ControlPanel(state)

    install_request_counting(app, state.counter)
    install_faults(app, fault_injector, _fault_error, _fault_429)

    api = Blueprint("bc_store_api", __name__, url_prefix="/stores/<store_hash>")
    for module in (api_customers, api_subscribers, api_orders, api_order_resources, api_catalog,
                   api_brands_categories, api_hooks, api_legacy_v2):
        api.register_blueprint(module.blueprint)
    guard_api(api)
    app.register_blueprint(api)
    app.register_blueprint(control.blueprint)
    app.add_url_rule("/oauth2/token", "oauth2_token", _token_exchange, methods=["POST"])
    _register_error_handlers(app)
    return app


def _secret_for(accounts: Accounts, client_id: str) -> str | None:
    app = accounts.apps.get(client_id)
    return app.client_secret if app else None


def _token_exchange():
    """``POST /oauth2/token`` with a JSON or form-encoded body."""
    form = request.get_json(silent=True) if request.is_json else None
    if not isinstance(form, dict):
        form = request.form.to_dict()
    status, body = emulator().accounts.exchange({k: str(v) for k, v in form.items()})
    return json_response(body, status)


def _fault_error(status: int):
    return api_error(status)


def _fault_429():
    store_hash = (request.view_args or {}).get("store_hash", "")
    response = api_error(429)
    for name, value in emulator().limiter.injected_burst_headers(store_hash).items():
        response.headers[name] = value
    return response


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(BadRequest)
    def _bad_request(error: BadRequest):
        if is_v2_path():
            return v2_error(400, f"The field '{error.field}' is invalid: {error}")
        return v3_error(422, "The filter(s) or query parameter(s) are invalid.", {error.field: str(error)})

    @app.errorhandler(LimitTooLarge)
    def _too_large(error: LimitTooLarge):
        """The ``refused`` reading of ``over_limit`` (the ``max_page_size`` mode is the maximum)."""
        if is_v2_path():
            return v2_error(413, details={"max_limit": error.max_limit})
        return v3_error(413, errors={"limit": f"must be at most {error.max_limit}"})

    @app.errorhandler(404)
    def _not_found(error):
        if request.path.startswith("/stores/"):
            return api_error(404)
        return json_response({"error": "not found"}, 404)

    @app.errorhandler(405)
    def _not_allowed(error):
        if request.path.startswith("/stores/"):
            return api_error(405)
        return json_response({"error": "method not allowed"}, 405)
