"""``/_emulator/...``: state, reset, mutations, apps, control panel, rate limit, webhook log.

Not part of BigCommerce; no auth, not counted, never faulted. All bodies are JSON.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, current_app, request

from ..common import paused_gc
from ..modes import control_view
from . import mutations
from .context import emulator
from .control_panel import ControlPanel, ControlPanelError
from .responses import json_response

blueprint = Blueprint("bc_emulator", __name__, url_prefix="/_emulator")

_KINDS = {
    "customers": (mutations.create_customer, mutations.update_customer, mutations.delete_customer),
    "subscribers": (mutations.create_subscriber, mutations.update_subscriber, mutations.delete_subscriber),
    "orders": (mutations.create_order, mutations.update_order, mutations.archive_order),
    "products": (mutations.create_product, mutations.update_product, mutations.delete_product),
}


def _body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _error(status: int, message: str):
    return json_response({"error": message}, status)


@blueprint.get("/state")
def state():
    """Everything held (``?summary=1``: counts only; ``?store=hash``: one store)."""
    state = emulator()
    summary = request.args.get("summary") in ("1", "true")
    wanted = request.args.get("store")
    stores = []
    with paused_gc():  # a whole store is millions of new objects: no collection halfway
        for store in state.stores.values():
            if wanted and store.spec.store_hash != wanted:
                continue
            with store.lock:
                stores.append(store.snapshot(summary))
        return json_response({"stores": stores, "requests": state.counter.snapshot()})


@blueprint.post("/reset")
def reset():
    """Regenerate every store from its spec; clear counters, faults, windows, webhook log.
    Apps and tokens stay (``{"accounts": true}`` clears installs too)."""
    from .store import Store

    state = emulator()
    for store_hash, store in list(state.stores.items()):
        state.stores[store_hash] = Store(store.spec)
    state.counter.reset()
    state.faults.reset()
    state.limiter.reset()
    state.dispatcher.clear()
    if _body().get("accounts"):
        state.accounts.installs.clear()
    return json_response({"reset": True, "stores": [s.snapshot(summary=True) for s in state.stores.values()]})


@blueprint.post("/stores/<store_hash>/<kind>")
def create(store_hash: str, kind: str):
    store = emulator().store(store_hash)
    if store is None or kind not in _KINDS:
        return _error(404, "unknown store or kind")
    try:
        return json_response({"data": _KINDS[kind][0](current_app, store, _body())}, 201)
    except mutations.Conflict as conflict:
        return _error(409, str(conflict))
    except (KeyError, ValueError, TypeError) as error:
        return _error(422, f"invalid body: {error}")


@blueprint.route("/stores/<store_hash>/<kind>/<int:record_id>", methods=["PUT", "PATCH", "DELETE"])
def change(store_hash: str, kind: str, record_id: int):
    store = emulator().store(store_hash)
    if store is None or kind not in _KINDS:
        return _error(404, "unknown store or kind")
    try:
        if request.method == "DELETE":
            result = _KINDS[kind][2](current_app, store, record_id)
        else:
            result = _KINDS[kind][1](current_app, store, record_id, _body())
    except mutations.Conflict as conflict:
        return _error(409, str(conflict))
    except (KeyError, ValueError, TypeError) as error:
        return _error(422, f"invalid body: {error}")
    if not result:
        return _error(404, f"{kind} {record_id} not found")
    return json_response({"data": result if isinstance(result, dict) else {"id": record_id, "deleted": True}})


@blueprint.post("/stores/<store_hash>/activity")
def activity(store_hash: str):
    """A little life: ``{"customers": 1, "orders": 1, "subscribers": 1, "updates": 0, "deletions": 0}``."""
    store = emulator().store(store_hash)
    if store is None:
        return _error(404, "unknown store")
    body = _body()
    counts = {k: int(body.get(k, 0 if k in ("updates", "deletions") else 1))
              for k in ("customers", "orders", "subscribers", "updates", "deletions")}
    return json_response({"data": mutations.simulate_activity(current_app, store, **counts)}, 201)


@blueprint.route("/apps", methods=["GET", "POST"])
def apps():
    """Register/replace an app: ``{"client_id", "client_secret", "auth_callback", "load_callback",
    "uninstall_callback", "remove_user_callback", "scopes" (list or space-separated), "account_uuid"}``."""
    accounts = emulator().accounts
    if request.method == "POST":
        body = _body()
        if not body.get("client_id") or (body["client_id"] not in accounts.apps and not body.get("client_secret")):
            return _error(422, "client_id and client_secret are required")
        try:
            accounts.register_app(**body)
        except TypeError as error:
            return _error(422, str(error))
    return json_response({"apps": [a.public() for a in accounts.apps.values()],
                          "installs": [{"client_id": c, "store_hash": s} for c, s in accounts.installs]})


@blueprint.post("/tokens")
def tokens():
    """Add an API-account token: ``{"store_hash", "access_token", "client_id", "scopes": [...]}``."""
    body = _body()
    from .accounts import FULL_SCOPES

    grant = emulator().accounts.add_token(body["access_token"], body["store_hash"], body.get("client_id", "api-account"),
                                          body.get("scopes", FULL_SCOPES))
    return json_response({"access_token": grant.token, "store_hash": grant.store_hash,
                          "client_id": grant.client_id, "scopes": sorted(grant.scopes)}, 201)


@blueprint.post("/control-panel/<action>")
def control_panel(action: str):
    """Simulate the control panel: ``install``, ``load``, ``uninstall``, ``remove_user``.
    Body ``{"client_id", "store_hash", "user": "owner"|"staff"|{id,email,locale}, "url", "channel_id"}``."""
    body = _body()
    panel: ControlPanel = current_app.extensions["bigcommerce_control_panel"]
    try:
        args = (body["client_id"], body["store_hash"])
        if action == "install":
            result = panel.install(*args, user=body.get("user"))
        elif action == "load":
            result = panel.load(*args, user=body.get("user"), url=body.get("url", "/"), channel_id=body.get("channel_id"))
        elif action == "uninstall":
            result = panel.uninstall(*args, user=body.get("user"))
        elif action == "remove_user":
            result = panel.remove_user(*args, user=body.get("user", "staff"))
        else:
            return _error(404, "unknown action")
    except (KeyError, ControlPanelError) as error:
        return _error(422, str(error))
    except Exception as error:  # the app is unreachable: report it, as a browser would show it
        return json_response({"status": None, "error": f"{type(error).__name__}: {error}"}, 502)
    return json_response(result)


@blueprint.route("/rate-limit", methods=["GET", "POST"])
def rate_limit():
    """``{"enabled", "quota", "window_ms", "send_retry_after", "rate_headers_on_429", "burst_reset_ms"}``."""
    limiter = emulator().limiter
    if request.method == "POST":
        try:
            limiter.configure(**_body())
        except TypeError as error:
            return _error(422, str(error))
    return json_response(asdict(limiter.settings))


def _set_modes(modes) -> None:
    emulator().modes = modes


blueprint.add_url_rule("/modes", "modes", control_view(lambda: emulator().modes, _set_modes),
                       methods=["GET", "PATCH"])


@blueprint.route("/webhooks", methods=["GET", "POST"])
def webhooks():
    """Delivery log; POST ``{"retry_scale": 0.01, "timeout": 2}`` to tune; ``?wait=5`` waits for idle."""
    dispatcher = emulator().dispatcher
    if request.method == "POST":
        body = _body()
        dispatcher.retry_scale = float(body.get("retry_scale", dispatcher.retry_scale))
        dispatcher.timeout = float(body.get("timeout", dispatcher.timeout))
    if request.args.get("wait"):
        dispatcher.wait_idle(float(request.args["wait"]))
    return json_response({"pending": dispatcher.pending(), "retry_scale": dispatcher.retry_scale,
                          "deliveries": list(dispatcher.log)})
