"""Web security that every page shares: CSRF on every form, iframe-friendly cookies, framing rules.

The settings pages live inside the store's control panel, a cross-site iframe. Browsers only
send a session cookie there when it is ``SameSite=None; Secure``, which needs https; on plain
http (local use) the cookie stays ``Lax``. Framing is allowed for the control panel only
(``frame-ancestors``), never for any site, and every asset comes from this host.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, render_template, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect

from host.plugins import PluginHost

csrf = CSRFProtect()

# Control panels allowed to frame the pages, besides each store's own (``control_panel_base_url``
# in the connection's source data). Extend with ``[host] frame_ancestors`` (e.g. an emulator).
DEFAULT_FRAME_ANCESTORS = ("https://*.bigcommerce.com",)
# Blueprints authenticated by signatures rather than the merchant session (JWT callbacks,
# webhook receivers). A plugin may also mark its blueprint with ``csrf_exempt = True``.
SIGNED_REQUEST_BLUEPRINTS = ("bigcommerce",)


def init_app(app: Flask) -> None:
    secure = urlsplit(app.config["HOST"].get("public_url", "")).scheme == "https"
    app.config["SESSION_COOKIE_SECURE"] = secure
    app.config["SESSION_COOKIE_SAMESITE"] = "None" if secure else "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # A merchant may keep the settings open for hours; the token stays bound to the session.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 12 * 3600)
    csrf.init_app(app)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.after_request(_security_headers)


def exempt_signed_blueprints(plugins: PluginHost) -> None:
    """Exempt blueprints whose requests are verified by signature, not by the merchant's session."""
    for blueprint in plugins.blueprints:
        if isinstance(blueprint, Blueprint) and (
            blueprint.name in SIGNED_REQUEST_BLUEPRINTS or getattr(blueprint, "csrf_exempt", False)
        ):
            csrf.exempt(blueprint)


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPENING, _CLOSING = frozenset(b"[{"), frozenset(b"]}")


def json_depth(body: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (strings are skipped)."""
    depth = deepest = 0
    for byte in _JSON_STRING.sub(b'""', body):
        if byte in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in _CLOSING:
            depth -= 1
    return deepest


def parse_json(body: bytes, *, max_depth: int = 32) -> Any:
    """Decode a JSON body, refusing (``ValueError``) one nested deeper than ``max_depth`` before
    the decoder recurses into it (100,000 brackets would otherwise end in a RecursionError)."""
    if json_depth(body) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth}")
    try:
        return json.loads(body)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ValueError("JSON nested too deeply") from None


def _csrf_failed(error: CSRFError):
    message = "This form expired or did not come from these pages. Reload the page and try again."
    return render_template("settings/error.html", title="Form expired", message=message), 400


def _origin(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def frame_ancestors(app: Flask) -> list[str]:
    """``'self'``, the control panels allowed for every store, and this session's store's own."""
    from host.db import db_session
    from host.models import Connection

    allowed = ["'self'", *DEFAULT_FRAME_ANCESTORS, *app.config["HOST"].get("frame_ancestors", [])]
    connection_id = session.get("connection_id")
    if connection_id:
        connection = db_session().get(Connection, connection_id)
        origin = _origin((connection.source_data or {}).get("control_panel_base_url")) if connection else None
        if origin:
            allowed.append(origin)
    return list(dict.fromkeys(allowed))


def _security_headers(response):
    from flask import current_app

    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html" and request.endpoint != "static":
        policy = [
            "default-src 'self'",
            "img-src 'self' data:",
            "style-src 'self'",
            "script-src 'self'",
            "form-action 'self'",
            "base-uri 'self'",
            "object-src 'none'",
            f"frame-ancestors {' '.join(frame_ancestors(current_app))}",
        ]
        response.headers.setdefault("Content-Security-Policy", "; ".join(policy))
    return response
