"""``create_app``: the Engagement Cloud emulator as a Flask app (see the package docstring)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix

from ..common import (
    FaultInjector,
    FaultSettings,
    OrjsonProvider,
    RequestCounter,
    install_faults,
    install_request_counting,
)
from ..modes import resolve as resolve_modes
from . import (
    api_account,
    api_books,
    api_contacts_v2,
    api_contacts_v3,
    api_insight,
    api_programs,
    api_unsubscribes,
    control,
    errors,
    gate,
)
from .errors import is_v3_path, service_of, v2_error, v3_error
from .model import AccountSeed
from .modes import ENV_VAR as MODES_ENV_VAR
from .modes import Modes
from .state import EmulatorState, Options
from .web import EXTENSION_KEY

DEFAULT_ACCOUNT = {"api_user": "apiuser-demo@apiconnector.com", "password": "demo-password"}
# Reference §4.4 and §7.2: a bulk import request may be up to 50 MB (read as MiB: the larger).
# A bigger body is refused before it is read, with 413 in the service's error shape (the
# reference does not say how the live service refuses one: status and code UNCONFIRMED).
MAX_BODY_BYTES = 50 * 1024 * 1024


def _fault_error(status: int) -> Response:
    if is_v3_path(request.path):
        return errors.render(
            v3_error(
                status,
                f"{service_of(request.path)}:internalServerError",
                "An unexpected error occurred (injected fault)",
            )
        )
    return errors.render(v2_error(status, "An error has occurred. ERROR_UNKNOWN"))


def _fault_429(state: EmulatorState) -> Response:
    limit = next(
        (a.rate_limit_per_minute for a in state.accounts.values() if a.rate_limit_per_minute), 0
    )
    return errors.render(gate.too_many_requests(gate.rate_limit_headers(limit, 0, 1)))


def create_app(
    accounts: list[AccountSeed | dict[str, Any]] | None = None,
    *,
    processing_delay: float = 0.2,
    public_base_url: str | None = None,
    endpoint_trailing_slash: bool = False,
    max_active_contact_imports: int = 25,
    max_active_insight_imports: int = 5,
    faults: FaultSettings | dict[str, Any] | None = None,
    modes: Modes | dict[str, Any] | None = None,
) -> Flask:
    """Build an emulator holding ``accounts`` (``AccountSeed`` or its JSON; default: one r1
    account ``apiuser-demo@apiconnector.com`` / ``demo-password``).

    The state, request counter and fault injector are in ``app.extensions`` under
    ``"engagement_cloud_emulator"``, ``…".requests"`` and ``…".faults"``. ``modes``: the
    UNCONFIRMED readings to play (``modes.Modes`` or a dict of its fields; over the
    ``ENGAGEMENT_CLOUD_EMULATOR_MODES`` environment variable and the defaults).

    Behind a TLS proxy, ``ApiEndpoint`` (without ``public_base_url``) and other links use the
    forwarded scheme and host: werkzeug's ``ProxyFix`` trusts ``X-Forwarded-For``/``-Proto``/
    ``-Host`` from one proxy hop, with no check of who sent them (an emulator: fine).
    """
    seeds = [
        a if isinstance(a, AccountSeed) else AccountSeed.from_json(a)
        for a in (accounts if accounts is not None else [DEFAULT_ACCOUNT])
    ]
    options = Options(
        processing_delay,
        public_base_url,
        endpoint_trailing_slash,
        max_active_contact_imports,
        max_active_insight_imports,
    )
    state = EmulatorState(seeds, options, resolve_modes(Modes, MODES_ENV_VAR, modes))
    counter = RequestCounter()
    injector = FaultInjector(
        faults if isinstance(faults, FaultSettings) else FaultSettings(**(faults or {}))
    )
    app = Flask("engagement_cloud_emulator")
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.json = OrjsonProvider(app)  # 50 MB import bodies parse in a fraction of json's time
    app.json.sort_keys = False  # keep the vendor's field order
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions[EXTENSION_KEY] = state
    app.extensions[f"{EXTENSION_KEY}.requests"] = counter
    app.extensions[f"{EXTENSION_KEY}.faults"] = injector
    errors.init_app(app)
    install_request_counting(app, counter)
    install_faults(app, injector, _fault_error, lambda: _fault_429(state))
    gate.init_app(app, state)
    for module in (
        api_account,
        api_books,
        api_contacts_v2,
        api_contacts_v3,
        api_insight,
        api_programs,
        api_unsubscribes,
        control,
    ):
        app.register_blueprint(module.blueprint)

    @app.get("/")
    def index():
        return jsonify(
            {
                "emulator": "engagement-cloud",
                "regions": ["r1", "r2", "r3"],
                "control": "/_emulator/state",
            }
        )

    return app
