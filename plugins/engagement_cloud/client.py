"""HTTP client for one Engagement Cloud account: session, throttle, retries, error sorting.

One ``requests.Session`` per account (API user at its region endpoint) keeps connections
alive across a sync. Every call first waits on the account's throttle; answers are sorted in
one place (``send``):

- 2xx: returned.
- 429 (call rate or too many active imports) and the flat scheme's 400
  ``ERROR_APIUSAGE_EXCEEDED``: the request was refused, so it is always safe to repeat —
  after the ``X-RateLimit-Reset`` pause or an exponential back-off with jitter.
- 5xx, a dropped connection or a read timeout: the request may have been applied. It is
  repeated only when ``idempotent`` (GETs, upserts keyed by email or record key, deletes).
- A connection that could not even be opened: certainly not applied, always repeated.
- 401: ``ConfigurationError`` (code ``destination_credentials``): the password was changed or
  the API user locked or disabled, whatever the call; the merchant must act, so every part of
  the sync pauses with this one message instead of failing on a raw error.
- Other 4xx: ``ApiError`` for the caller to translate (configuration or record problem).

When the retries run out, ``TransientError`` (or ``host.errors.UncertainWriteError`` for a
non-idempotent call that may have been applied). Their messages are shown to the merchant, so
they say what happened in plain words (``plain_problem``); the method, path and exception go
to the log. Passwords never appear in messages or logs.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from host.errors import ConfigurationError, TransientError, UncertainWriteError

from .config import Settings
from .throttle import AccountThrottle, throttle_for

log = logging.getLogger(__name__)
USER_AGENT = "connector-host-engagement-cloud/0.1"
CONNECT_TIMEOUT = 10.0
JSON_CONTENT = {"Content-Type": "application/json"}


class ApiError(Exception):
    """A 4xx answer the client does not retry; ``code`` is the v2 ``ERROR_*`` or v3 ``errorCode``."""

    def __init__(self, status: int, code: str, message: str, body: Any = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


CREDENTIALS_REFUSED = (
    "Engagement Cloud did not accept this API username and password, or the API user is locked "
    "or disabled. Check them in Engagement Cloud under Settings › Access › API users, and unlock "
    "or enable the API user there if needed."
)


def credentials_refused() -> ConfigurationError:
    """The service answers a wrong password and a locked or disabled API user alike (401)."""
    return ConfigurationError(CREDENTIALS_REFUSED, area="connection", code="destination_credentials")


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


def error_code(body: Any) -> tuple[str, str]:
    """``(code, text)`` from a v3 ``{"errorCode", "description"}`` or v2 ``{"message"}`` body."""
    if isinstance(body, dict):
        if body.get("errorCode"):
            return str(body["errorCode"]), str(body.get("description") or "")
        message = str(body.get("message") or "")
        last = message.split()[-1] if message.split() else ""
        return (last if last.startswith("ERROR_") else ""), message
    return "", str(body or "")


def plain_problem(status: int | None = None, error: requests.RequestException | None = None) -> str:
    """What went wrong with a call, as the merchant reads it on the Store tab."""
    if error is not None:
        if isinstance(error, requests.ReadTimeout):
            return "Engagement Cloud did not answer in time"
        return "Engagement Cloud could not be reached"
    if status == 429 or status == 400:  # 400: the flat scheme's ERROR_APIUSAGE_EXCEEDED
        return "Engagement Cloud asked us to slow down (its limit on API calls was reached)"
    return f"Engagement Cloud had a server problem (HTTP {status})"


def _certainly_unsent(error: requests.RequestException) -> bool:
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


_sessions: dict[tuple[str, str], requests.Session] = {}
_sessions_lock = threading.Lock()


def _session_for(base_url: str, username: str, password: str) -> requests.Session:
    key = (base_url, username.lower())
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = requests.Session()
            session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
            _sessions[key] = session
        session.auth = (username, password)
        return session


class EngagementCloudClient:
    """Calls one account's API at ``base_url`` (its region endpoint, or r1 for discovery)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        settings: Settings,
        *,
        throttle: AccountThrottle | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")  # ApiEndpoint may end with "/" (reference §1.3)
        self.username = username
        self.settings = settings
        self.session = _session_for(self.base_url, username, password)
        self.throttle = throttle or throttle_for(self.base_url, username)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<EngagementCloudClient {self.username} @ {self.base_url}>"

    def get(self, path: str, **params: Any) -> Any:
        return self.send("GET", path, params=params or None).body

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | bytearray | None = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        max_attempts: int | None = None,
    ) -> Answer:
        """One logical call, repeated as the rules in the module docstring allow; ``data``: a
        body already encoded as JSON (an import), sent as it is (a ``bytearray`` is not copied)."""
        attempts = max_attempts or self.settings.max_attempts
        url = self.base_url + path
        last_problem, plain = "no answer", "Engagement Cloud did not answer"
        for attempt in range(1, attempts + 1):
            self.throttle.wait()
            try:
                response = self.session.request(
                    method, url, json=json, data=data, params=params,
                    headers=JSON_CONTENT if data is not None else None,
                    timeout=(CONNECT_TIMEOUT, self.settings.request_timeout),
                )
            except requests.RequestException as error:
                last_problem = f"{type(error).__name__} reaching {self.base_url}"
                plain = plain_problem(error=error)
                if not (idempotent or _certainly_unsent(error)):
                    log.warning("Engagement Cloud: %s on %s %s; it may have been applied", last_problem, method, path)
                    raise UncertainWriteError(
                        "Engagement Cloud did not answer, so what was sent may or may not have arrived"
                    ) from None
                self._back_off(attempt, attempts, method, path, last_problem)
                continue
            answer = Answer(response.status_code, _body(response), dict(response.headers))
            paused = self.throttle.observe(answer.status, answer.headers, self.settings.max_rate_limit_wait)
            if answer.status < 400:
                return answer
            code, text = error_code(answer.body)
            refused = answer.status == 429 or code == "ERROR_APIUSAGE_EXCEEDED"
            if refused:
                last_problem = f"{answer.status} {code or 'rate limited'}"
                plain = plain_problem(answer.status)
                if paused is None:
                    self._back_off(attempt, attempts, method, path, last_problem)
                elif attempt == attempts:
                    break
                else:
                    log.info("Engagement Cloud rate limit on %s %s: waiting %.1fs", method, path, paused)
                continue
            if answer.status >= 500:
                last_problem = f"{answer.status} {code}".strip()
                plain = plain_problem(answer.status)
                if not idempotent:
                    log.warning("Engagement Cloud answered %s to %s %s; it may have been applied", last_problem, method, path)
                    raise UncertainWriteError(
                        f"{plain}, so what was sent may or may not have arrived"
                    )
                self._back_off(attempt, attempts, method, path, last_problem)
                continue
            if answer.status == 401:
                raise credentials_refused()
            raise ApiError(answer.status, code, text, answer.body)
        log.warning("Engagement Cloud kept failing (%s) on %s %s after %d attempts", last_problem, method, path, attempts)
        raise TransientError(
            f"{plain} ({attempts} tries in a row). Nothing is lost: this part is synced again at the next sync."
        )

    def _back_off(self, attempt: int, attempts: int, method: str, path: str, problem: str) -> None:
        if attempt >= attempts:
            return
        ceiling = min(self.settings.retry_max_seconds, self.settings.retry_base_seconds * 2 ** (attempt - 1))
        delay = random.uniform(ceiling / 2, ceiling)  # jitter: callers do not retry in step
        log.info("Engagement Cloud %s on %s %s: retry %d in %.2fs", problem, method, path, attempt, delay)
        self._sleep(delay)


def _body(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
