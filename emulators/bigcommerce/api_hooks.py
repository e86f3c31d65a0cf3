"""``/v3/hooks``: create, list, read, update, delete (default scope; per-client visibility).

Hooks are visible only to the client (API account or app) that created them. One hook per
store + client + scope + destination, at most 10 per store + client + scope (documented
limits; the status for breaking them is UNCONFIRMED: 422 here). DELETE answers 200 with the
deleted hook, as specified.

A destination must be https on port 443 (reference §6.1; ``webhooks.v3.yml``: "must be served
on port 443. Custom ports aren't currently supported"). How the API refuses another is
UNCONFIRMED: 422 with the v3 error body naming ``destination`` here, on create and update,
when the mode ``webhook_destinations`` is ``https_443`` (the default); mode ``any`` accepts
any http(s) destination, for loopback tests and the demo (``modes.py``).
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

from flask import Blueprint, g, request

from .context import emulator, requires_scope
from .listing import offset_meta, page_of, paging
from .responses import json_response, v3_error

blueprint = Blueprint("bc_hooks", __name__)
HOOK_FIELDS = ("scope", "destination", "is_active", "headers")


def _mine() -> list[dict]:
    return [h for h in g.store.hooks.values() if h["client_id"] == g.grant.client_id]


HTTPS_443_REFUSAL = "The destination must be an https URL on port 443 (custom ports are not supported)"


def destination_refusal(destination: str) -> str | None:
    """Why a destination is refused (None: accepted): not an http(s) URL at all, or, in mode
    ``webhook_destinations=https_443``, not https on port 443 (explicit ``:443`` or none)."""
    parts = urlparse(destination)
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        return "error.url.invalid"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "error.url.invalid"
    if emulator().modes.webhook_destinations == "https_443" and (
        parts.scheme != "https" or port not in (None, 443)
    ):
        return HTTPS_443_REFUSAL
    return None


def _validate(body: dict, partial: bool) -> dict:
    errors = {}
    for name in ("scope", "destination"):
        if name in body and (not isinstance(body[name], str) or not body[name]):
            errors[name] = "error.path.invalid"
        elif name not in body and not partial:
            errors[name] = "error.path.missing."
    destination = body.get("destination")
    if isinstance(destination, str) and destination:
        refusal = destination_refusal(destination)
        if refusal:
            errors["destination"] = refusal
    if "is_active" in body and not isinstance(body["is_active"], bool):
        errors["is_active"] = "error.expected.jsboolean"
    headers = body.get("headers")
    if headers is not None and not (isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())):
        errors["headers"] = "error.expected.jsobject"
    if partial and not any(name in body for name in HOOK_FIELDS):
        errors["body"] = "at least one of scope, destination, is_active, headers"
    return errors


def _conflicts(candidate: dict, hook_id: int | None = None) -> dict:
    same_scope = [h for h in _mine() if h["scope"] == candidate["scope"] and h["id"] != hook_id]
    if any(h["destination"] == candidate["destination"] for h in same_scope):
        return {"destination": "a hook for this scope and destination already exists"}
    if len(same_scope) >= 10:
        return {"scope": "at most 10 hooks per scope"}
    return {}


@blueprint.post("/v3/hooks")
@requires_scope(None)
def create_hook(store_hash: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return v3_error(400, "Request body must be a JSON object")
    errors = _validate(body, partial=False)
    if errors:
        return v3_error(422, errors=errors)
    now = int(time.time())
    with g.store.lock:
        hook = {"id": g.store.next_hook_id, "client_id": g.grant.client_id, "store_hash": store_hash,
                "scope": body["scope"], "destination": body["destination"],
                "is_active": body.get("is_active", True), "headers": body.get("headers"),
                "created_at": now, "updated_at": now}
        conflict = _conflicts(hook)
        if conflict:
            return v3_error(422, errors=conflict)
        g.store.next_hook_id += 1
        g.store.hooks[hook["id"]] = hook
        return json_response({"data": dict(hook), "meta": {}})


@blueprint.get("/v3/hooks")
@requires_scope(None)
def list_hooks(store_hash: str):
    page, limit = paging()
    with g.store.lock:
        hooks = sorted(_mine(), key=lambda h: h["id"])
    if "is_active" in request.args:
        wanted = request.args["is_active"].lower() in ("true", "1")
        hooks = [h for h in hooks if h["is_active"] is wanted]
    for name in ("scope", "destination"):
        if request.args.get(name):
            hooks = [h for h in hooks if h[name] == request.args[name]]
    chunk = [dict(h) for h in page_of(hooks, page, limit)]
    return json_response({"data": chunk, "meta": offset_meta(len(hooks), len(chunk), page, limit)})


def _find(hook_id: int) -> dict | None:
    hook = g.store.hooks.get(hook_id)
    return hook if hook and hook["client_id"] == g.grant.client_id else None


def _not_found(hook_id: int):
    return v3_error(404, f"Webhook with id [{hook_id}] not found")


@blueprint.get("/v3/hooks/<int:hook_id>")
@requires_scope(None)
def get_hook(store_hash: str, hook_id: int):
    with g.store.lock:
        hook = _find(hook_id)
        return json_response({"data": dict(hook), "meta": {}}) if hook else _not_found(hook_id)


@blueprint.put("/v3/hooks/<int:hook_id>")
@requires_scope(None)
def update_hook(store_hash: str, hook_id: int):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return v3_error(400, "Request body must be a JSON object")
    errors = _validate(body, partial=True)
    if errors:
        return v3_error(422, errors=errors)
    with g.store.lock:
        hook = _find(hook_id)
        if hook is None:
            return _not_found(hook_id)
        changed = hook | {k: body[k] for k in HOOK_FIELDS if k in body}
        conflict = _conflicts(changed, hook_id) if ("scope" in body or "destination" in body) else {}
        if conflict:
            return v3_error(422, errors=conflict)
        hook.update(changed, updated_at=int(time.time()))
        return json_response({"data": dict(hook), "meta": {}})


@blueprint.delete("/v3/hooks/<int:hook_id>")
@requires_scope(None)
def delete_hook(store_hash: str, hook_id: int):
    with g.store.lock:
        hook = _find(hook_id)
        if hook is None:
            return _not_found(hook_id)
        del g.store.hooks[hook_id]
        return json_response({"data": dict(hook), "meta": {}})
