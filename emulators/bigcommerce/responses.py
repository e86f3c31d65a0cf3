"""Response shapes: v2 and v3 error bodies, v3 pagination ``meta``, JSON bodies.

v2 errors are a JSON array of ``{status, message}``; v3 errors one object
``{status, title, type[, errors]}`` (reference §2.4). Which family a request belongs to is
read from its path (``/stores/{hash}/v2/...`` or ``.../v3/...``).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import orjson
from flask import Response, request

STATUS_DOCS = "/api-docs/getting-started/api-status-codes"
V2_MESSAGES = {
    400: "The request was malformed.",
    401: "You are not authorized to access this resource. Please check the X-Auth-Token header.",
    403: "You do not have permission to access this resource.",
    404: "The requested resource was not found.",
    405: "The requested method is not allowed for this resource.",
    413: "The specified limit exceeds the maximum allowed.",
    422: "The request could not be processed.",
    429: "Too many requests. Please wait before trying again.",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
V3_TITLES = {
    401: "Unauthorized - the v3 Auth client ID or token in the request are not a valid combination for this store.",
    403: "Unauthorized Access. You do not have permission to make this request.",
    404: "The requested resource was not found.",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "The specified limit exceeds the maximum allowed.",
    422: "JSON data is missing or invalid",
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def dumps(body: object) -> bytes:
    """Compact UTF-8 JSON in the objects' own key order (BigCommerce's field order): orjson,
    byte for byte what ``json.dumps(body, ensure_ascii=False, separators=(",", ":"))`` writes
    for the emulator's data; the standard library only for what orjson refuses."""
    try:
        return orjson.dumps(body)
    except TypeError:  # e.g. an integer beyond 64 bits, a non-string key
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    """JSON without key sorting (fast, and keeps BigCommerce's field order)."""
    return Response(dumps(body), status=status, mimetype="application/json", headers=headers)


def is_v2_path(path: str | None = None) -> bool:
    return "/v2/" in (path if path is not None else request.path)


def v2_error(status: int, message: str | None = None, details: dict | None = None) -> Response:
    item = {"status": status, "message": message or V2_MESSAGES.get(status, "Error")}
    if details:
        item["details"] = details
    return json_response([item], status)


def v3_error(status: int, title: str | None = None, errors: dict | None = None) -> Response:
    body = {"status": status, "title": title or V3_TITLES.get(status, "Error"), "type": STATUS_DOCS}
    if errors:
        body["errors"] = errors
    return json_response(body, status)


def api_error(status: int, message: str | None = None, errors: dict | None = None) -> Response:
    """An error in the family of the current request's path."""
    if is_v2_path():
        return v2_error(status, message, errors)
    return v3_error(status, message, errors)


def pagination_meta(total: int, count: int, page: int, limit: int) -> dict:
    """v3 ``meta.pagination``; ``previous``/``next`` links are omitted at the ends (§4.1).

    Links are relative query strings echoing the request's other parameters, URL-encoded,
    followed by ``page`` and ``limit`` (the order used in the docs' examples).
    """
    total_pages = max(1, -(-total // limit)) if total else 0
    others = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "limit")]

    def link(number: int) -> str:
        return "?" + urlencode([*others, ("page", number), ("limit", limit)])

    links = {}
    if page > 1:
        links["previous"] = link(page - 1)
    links["current"] = link(page)
    if page < total_pages:
        links["next"] = link(page + 1)
    return {"total": total, "count": count, "per_page": limit, "current_page": page,
            "total_pages": total_pages, "links": links}
