"""Region routing, Basic auth, wrong-region refusals and the per-minute rate limit.

Regions on one process: the real service has a host per region (``r1-api.dotdigital.com``,
``r2-…``, ``r3-…``). Here the region is a path prefix, so the base URL of region rN is
``http://HOST:PORT/rN``; a path without a prefix is served as r1 (the default host connectors
start from). ``GET /v2/account-info`` answers on every region (reference §1.3: discovery is
done against r1 whatever the account's region) and names ``http://HOST:PORT/rN`` as the
account's ``ApiEndpoint``; every other call on the wrong region gets 403
``{"message": "Forbidden: Access is denied"}`` (§1.1; body shape UNCONFIRMED). A doubled
slash (``/r2//v2/...``, from an ``ApiEndpoint`` with a trailing ``/``) is tolerated.

Locked or disabled API users: dotdigital's support article "Troubleshoot API authentication
problems" (support.dotdigital.com/en/articles/8199491) lists a wrong password, a locked API user
and a disabled API user as the three causes of an *authentication failure*; no source shows a
distinct answer. Chosen here (UNCONFIRMED): the same 401 ``{"message": "Authorization has been
denied for this request."}`` as a wrong password, on every call, right password or not (that
text is ASP.NET Web API's stock ``[Authorize]`` refusal, which never says why). Lock one with
``PATCH /_emulator/accounts/<api_user>`` ``{"locked": true}`` (or ``"disabled"``), or seed it so.

Rate limit (§10.2): a fixed 60-second window per account on the emulator clock. Every
authenticated answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``,
``X-RateLimit-Reset`` (seconds until the window resets: the official SDK's reading) and
``X-RateLimit-Scope``; over the limit the answer is 429 (body UNCONFIRMED: v2
``{"message": "... ERROR_APIUSAGE_EXCEEDED"}``, v3 ``{"errorCode": "<service>:tooManyRequests"}``).
"""

from __future__ import annotations

import math
import re

from flask import Flask, Response, g, request

from .errors import AUTHORIZATION_DENIED, WRONG_REGION, is_v3_path, service_of, v2_error, v3_error
from .model import REGIONS
from .state import EmulatorState

REGION_PREFIX = re.compile(r"^/(r[0-9]+)(?=/|$)")
RATE_LIMIT_SCOPE = "mediumCallRate"  # value format UNCONFIRMED (§10.2)
RATE_WINDOW_SECONDS = 60.0
REGION_AGNOSTIC = {"/v2/account-info"}


class RegionPrefixMiddleware:
    """Strip ``/rN`` from the path into ``environ["emulator.region"]``; collapse ``//``."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        region = "r1"
        match = REGION_PREFIX.match(path)
        if match:
            region = match.group(1)
            path = path[match.end() :] or "/"
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + match.group(0)
        environ["PATH_INFO"] = re.sub("/{2,}", "/", path)
        environ["emulator.region"] = region
        return self.wsgi_app(environ, start_response)


def rate_limit_headers(limit: int, remaining: int, reset_seconds: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(remaining, 0)),
        "X-RateLimit-Reset": str(max(1, math.ceil(reset_seconds))),
        "X-RateLimit-Scope": RATE_LIMIT_SCOPE,
    }


def too_many_requests(headers: dict[str, str]):
    if is_v3_path(request.path):
        error = v3_error(
            429,
            f"{service_of(request.path)}:tooManyRequests",
            "Too many requests: the API call rate limit has been exceeded",
        )
    else:
        error = v2_error(
            429,
            "Your account has generated excess API activity and is being "
            "temporarily capped. ERROR_APIUSAGE_EXCEEDED",
        )
    error.headers.update(headers)
    return error


def init_app(app: Flask, state: EmulatorState) -> None:
    app.wsgi_app = RegionPrefixMiddleware(app.wsgi_app)  # type: ignore[method-assign]

    @app.before_request
    def _authenticate():
        if request.path.startswith("/_emulator") or request.url_rule is None:
            return None
        g.region = request.environ.get("emulator.region", "r1")
        auth = request.authorization
        with state.lock:
            account = state.account(auth.username) if auth and auth.username else None
            if account is None or auth.password != account.password or not account.may_sign_in:
                raise v2_error(401, AUTHORIZATION_DENIED)
            if g.region not in REGIONS or (
                g.region != account.region and request.path not in REGION_AGNOSTIC
            ):
                raise v2_error(403, WRONG_REGION)
            g.account = account
            now = state.clock.now()
            account.api_calls.append(now)
            while account.api_calls and account.api_calls[0] < now - 3600:
                account.api_calls.popleft()
            limit = account.rate_limit_per_minute
            if limit:
                if now - account.rate_window_start >= RATE_WINDOW_SECONDS:
                    account.rate_window_start, account.rate_window_count = now, 0
                reset = account.rate_window_start + RATE_WINDOW_SECONDS - now
                if account.rate_window_count >= limit:
                    raise too_many_requests(rate_limit_headers(limit, 0, reset))
                account.rate_window_count += 1
                g.rate_headers = rate_limit_headers(limit, limit - account.rate_window_count, reset)
            state.advance(account)
        return None

    @app.after_request
    def _add_rate_headers(response: Response) -> Response:
        for name, value in (g.get("rate_headers") or {}).items():
            response.headers.setdefault(name, value)
        return response
