"""Web security that every page shares: CSRF on every form, iframe-friendly cookies, framing rules,
size and shape limits, and logs without signed tokens.

The settings pages live inside the store's control panel, a cross-site iframe. Browsers only
send a session cookie there when it is ``SameSite=None; Secure; Partitioned``, which needs https;
on plain http (local use) the cookie stays ``Lax``. Framing is allowed for the control panel
only (``frame-ancestors``), never for any site, error pages included, and every asset comes
from this host.

Every request is bounded before it is parsed: the body (``[host] max_request_bytes``, 1 MiB;
the webhook receiver reads at most 16 KiB), the query string (8 KiB), the number of form fields
(200) and each field's length (4,096 characters; each form's own rules are tighter). JSON is
decoded with a bounded nesting depth (``parse_json``). Signed query strings (the control
panel's ``signed_payload_jwt``, the install's one-time ``code``, a sign-in link's ``login_token``) are replaced by ``[scrubbed]``
in every log record, the web server's access log included.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, g, render_template, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from host.plugins import PluginHost

csrf = CSRFProtect()

# Control panels allowed to frame the pages: each enabled source's ``frame_origins`` and the
# session's store's own (``Source.control_panel_url``). Extend with ``[host] frame_ancestors``
# (e.g. an emulator). Blueprints authenticated by signatures rather than the merchant session
# (JWT callbacks, webhook receivers) are marked by their plugin with ``csrf_exempt = True``.

MAX_REQUEST_BYTES = 1024 * 1024  # ``[host] max_request_bytes``
MAX_QUERY_BYTES = 8 * 1024
MAX_FORM_FIELDS = 200
MAX_FIELD_CHARS = 4096
# Query parameters whose values are credentials: never written to a log.
SIGNED_PARAMETERS = (
    "signed_payload_jwt", "signed_payload", "code", "access_token", "client_secret", "login_token",
)
_SIGNED_VALUE = re.compile(r"(?P<name>\b(?:" + "|".join(SIGNED_PARAMETERS) + r")=)[^&\s\"']+")
ERROR_TITLES = {
    400: ("Request not understood", "This request could not be understood. Go back and try again."),
    404: ("Page not found", "There is no page at this address."),
    405: ("Not allowed", "This page cannot be used this way."),
    413: ("Too large", "What was sent is larger than this app accepts."),
    414: ("Address too long", "The address of this request is longer than this app accepts."),
}


def init_app(app: Flask) -> None:
    secure = urlsplit(app.config["HOST"].get("public_url", "")).scheme == "https"
    app.config["SESSION_COOKIE_SECURE"] = secure
    app.config["SESSION_COOKIE_SAMESITE"] = "None" if secure else "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # Browsers that block third-party cookies keep a partitioned one for the control panel's frame.
    app.config["SESSION_COOKIE_PARTITIONED"] = secure
    # The cookie ends a working day after the last request (``[host] session_idle_hours``); the
    # session itself checks the same (host.web.session).
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        hours=float(app.config["HOST"].get("session_idle_hours", 8))
    )
    # A merchant may keep the settings open for hours; the token stays bound to the session.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 12 * 3600)
    app.config.setdefault(
        "MAX_CONTENT_LENGTH", int(app.config["HOST"].get("max_request_bytes", MAX_REQUEST_BYTES))
    )
    app.config.setdefault("MAX_FORM_MEMORY_SIZE", 64 * 1024)
    app.config.setdefault("MAX_FORM_PARTS", MAX_FORM_FIELDS)
    csrf.init_app(app)
    app.before_request(_bounded_request)
    app.register_error_handler(CSRFError, _csrf_failed)
    for code in ERROR_TITLES:
        app.register_error_handler(code, _error_page)
    app.after_request(_security_headers)
    install_log_scrubber()


def _bounded_request():
    """Refuse a request whose address, or whose form, exceeds the limits above (before any view)."""
    if len(request.query_string) > MAX_QUERY_BYTES:
        return _error_page(HTTPException(), 414)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = request.form  # parsed within MAX_CONTENT_LENGTH, MAX_FORM_MEMORY_SIZE and MAX_FORM_PARTS
        if len(form) > MAX_FORM_FIELDS or any(
            len(key) > 256 or len(value) > MAX_FIELD_CHARS for key, value in form.items(multi=True)
        ):
            return _error_page(HTTPException(), 413)
    return None


def _error_page(error: HTTPException, code: int | None = None):
    """The plain error pages, framed by the same policy as every other page."""
    code = code or error.code or 500
    title, message = ERROR_TITLES.get(code, ("Something went wrong", "This request could not be handled."))
    return render_template("settings/error.html", title=title, message=message), code


def scrub(text: str) -> str:
    """``text`` with the values of signed query parameters replaced by ``[scrubbed]``."""
    if "=" not in text:
        return text
    return _SIGNED_VALUE.sub(lambda found: found["name"] + "[scrubbed]", text)


def _scrubbed(value: Any) -> Any:
    return scrub(value) if isinstance(value, str) and "=" in value else value


def install_log_scrubber() -> None:
    """Every log record created from now on (any logger: werkzeug's and gunicorn's access logs,
    the host's own) has signed query values scrubbed from its message and arguments."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "scrubs_signed_values", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.msg = _scrubbed(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_scrubbed(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _scrubbed(value) for key, value in record.args.items()}
        return record

    factory.scrubs_signed_values = True
    logging.setLogRecordFactory(factory)


def exempt_signed_blueprints(plugins: PluginHost) -> None:
    """Exempt blueprints whose requests are verified by signature, not by the merchant's session."""
    for blueprint in plugins.blueprints:
        if isinstance(blueprint, Blueprint) and getattr(blueprint, "csrf_exempt", False):
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


def control_panel_origin(plugins: PluginHost, connection) -> str | None:
    """The origin of the connection's own control panel, as its source says
    (``Source.control_panel_url``); None for a source that is not enabled or names none."""
    source = plugins.sources.get(connection.source)
    return _origin(source.control_panel_url(connection)) if source is not None else None


def source_frame_origins(plugins: PluginHost) -> list[str]:
    """The ``frame_origins`` every enabled source declares, in the sources' order."""
    return [origin for source in plugins.sources.values() for origin in source.frame_origins]


def frame_ancestors(app: Flask) -> list[str]:
    """``'self'``, the control panels the enabled sources allow for every store, the configured
    ones, and this session's store's own."""
    from host.db import db_session
    from host.models import Connection

    plugins = app.extensions["host.plugins"]
    allowed = ["'self'", *source_frame_origins(plugins), *app.config["HOST"].get("frame_ancestors", [])]
    origin = g.get("frame_origin")  # the store of a session just ended (its 401 page)
    connection_id = session.get("connection_id")
    if origin is None and connection_id:
        connection = db_session().get(Connection, connection_id)
        origin = control_panel_origin(plugins, connection) if connection else None
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
