"""Error answers in Engagement Cloud's two shapes (reference §10.3).

v2 answers ``{"message": "<text> ERROR_CODE"}``; v3 answers
``{"errorCode": "<service>:<code>", "description": ..., "details": [...]}``. Handlers raise
``ApiError`` and one error handler renders it, so every route speaks the same shapes.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

AUTHORIZATION_DENIED = "Authorization has been denied for this request."
# Reference §1.1: a call to another region's host fails with this text; the body shape is
# UNCONFIRMED, so the emulator uses the v2 ``message`` shape on every path.
WRONG_REGION = "Forbidden: Access is denied"


class ApiError(Exception):
    """An error answer: HTTP status, JSON body and optional extra headers."""

    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        super().__init__(body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def v2_error(status: int, message: str) -> ApiError:
    """A v2 error, e.g. ``v2_error(404, "Error: ERROR_PROGRAM_NOT_FOUND")``."""
    return ApiError(status, {"message": message})


def v3_error(
    status: int, error_code: str, description: str, details: list[dict] | None = None
) -> ApiError:
    """A v3 error, e.g. ``v3_error(404, "contacts:contactNotFound", "...")``."""
    body: dict = {"errorCode": error_code, "description": description}
    if details:
        body["details"] = details
    return ApiError(status, body)


def is_v3_path(path: str) -> bool:
    """True for the v3 services (``/contacts/v3``, ``/insightData/v3``), which use the v3 shape."""
    return "/v3" in path and not path.startswith("/v2/")


def service_of(path: str) -> str:
    """The v3 error-code prefix for a path: ``contacts`` or ``insightData``."""
    return "insightData" if path.startswith("/insightData") else "contacts"


def render(error: ApiError) -> Response:
    response = jsonify(error.body)
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    """Render ``ApiError`` and turn Flask's own 404/405 into the service's error shapes."""
    from flask import request

    app.register_error_handler(ApiError, render)

    def _not_routed(status: int, code: str, text: str) -> Response:
        if is_v3_path(request.path):
            return render(v3_error(status, f"{service_of(request.path)}:{code}", text))
        return render(v2_error(status, text))

    app.register_error_handler(
        404, lambda _e: _not_routed(404, "notFound", "Error: ERROR_RESOURCE_NOT_FOUND")
    )
    app.register_error_handler(
        413,
        lambda _e: _not_routed(
            413,
            "requestTooLarge",
            "The request body is larger than the 50 MB allowed. ERROR_REQUEST_TOO_LARGE",
        ),
    )
    app.register_error_handler(
        405,
        lambda _e: _not_routed(
            405, "methodNotAllowed", "The requested resource does not support this http method."
        ),
    )
