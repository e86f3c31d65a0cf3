"""Small helpers the route modules share: the state, the caller's account, paging, bodies."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from .account import Account
from .errors import is_v3_path, service_of, v2_error, v3_error
from .state import EmulatorState

EXTENSION_KEY = "engagement_cloud_emulator"


def state() -> EmulatorState:
    return current_app.extensions[EXTENSION_KEY]


def account() -> Account:
    """The authenticated caller's account (set by ``gate``)."""
    return g.account


def json_body() -> Any:
    """The request's JSON, or the service's bad-JSON error."""
    body = request.get_json(silent=True)
    if body is None:
        if is_v3_path(request.path):
            raise v3_error(
                400, f"{service_of(request.path)}:badJson", "The request JSON is badly formed"
            )
        raise v2_error(400, "The request body is not valid JSON. ERROR_MALFORMED_REQUEST")
    return body


def v2_page(default_select: int = 1000, max_select: int = 1000) -> tuple[int, int]:
    """``select`` (1..max) and ``skip`` (>= 0), else 400 ``ERROR_PARAMETER_INVALID`` (§2)."""
    try:
        select = int(request.args.get("select", default_select))
        skip = int(request.args.get("skip", 0))
    except ValueError:
        raise v2_error(
            400, "select and skip must be whole numbers. ERROR_PARAMETER_INVALID"
        ) from None
    if not 1 <= select <= max_select:
        raise v2_error(400, f"select must be between 1 and {max_select}. ERROR_PARAMETER_INVALID")
    if skip < 0:
        raise v2_error(400, "skip must not be negative. ERROR_PARAMETER_INVALID")
    return select, skip


def truthy(value: str | None) -> bool:
    return str(value).lower() in ("1", "true", "yes")
