"""Is the host's ``[host] public_url`` one the outside world can call back?

Callbacks and webhooks are built from ``public_url``. Webhook senders require https on the
standard port: BigCommerce's webhook destinations "must be served on port 443. Custom ports
aren't currently supported" (reference §6.1, ``webhooks.v3.yml``). A public URL that is not
https on port 443 is a configuration problem: it is logged once at start-up, shown on
``/healthz``, and plugins that register webhooks do not try (the periodic sync carries on;
the BigCommerce plugin shows the merchant that instant updates are off).

For development and loopback tests, whose host listens on plain http on another port, an admin
opts out explicitly with ``[host] allow_insecure_public_url = true``: the URL is then used as it
is (against the emulator, which can be told to accept it; the real BigCommerce refuses it).

Only the URL's scheme, host, port and path are ever shown or logged, never user info or a query.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app

log = logging.getLogger(__name__)

REQUIREMENT = "must be https on port 443"


@dataclass(frozen=True)
class PublicUrlCheck:
    url: str  # as shown: scheme, host, port and path only
    problem: str | None  # why it is not https on port 443 (None: it is)
    insecure_allowed: bool  # the admin allowed an insecure public URL (development, tests)

    @property
    def blocking(self) -> str | None:
        """The problem, unless the admin allowed it: what stops webhooks from being registered."""
        return None if self.insecure_allowed else self.problem

    def describe(self) -> dict:
        """For ``/healthz``: ``ok``, ``problem`` or ``insecure allowed``."""
        if self.problem is None:
            return {"status": "ok", "url": self.url}
        return {
            "status": "insecure allowed" if self.insecure_allowed else "problem",
            "url": self.url,
            "problem": f"the public URL {self.problem}; it {REQUIREMENT}",
        }


def shown(url: str) -> str:
    """The URL without user info, query or fragment (what may be logged and shown)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return url.split("@")[-1].split("?")[0][:200]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def problem_of(url: str) -> str | None:
    """Why ``url`` is not https on port 443 (explicit ``:443`` or none), or None."""
    if not url:
        return "is not set"
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"uses {parts.scheme}, not https" if parts.scheme else "is not an https URL"
    try:
        port = parts.port
    except ValueError:
        return "has an invalid port"
    if not parts.hostname:
        return "has no host name"
    if port not in (None, 443):
        return f"uses port {port}, not 443"
    return None


def check(app: Flask | None = None) -> PublicUrlCheck:
    """The running app's public URL, checked now (tests may change it after start-up)."""
    settings = (app or current_app).config.get("HOST", {})
    url = str(settings.get("public_url") or "")
    return PublicUrlCheck(
        url=shown(url), problem=problem_of(url), insecure_allowed=settings.get("allow_insecure_public_url") is True
    )


def log_at_startup(app: Flask) -> None:
    """Once per process, at start-up: a warning when the public URL will keep webhooks off."""
    result = check(app)
    if result.problem is None:
        return
    if result.insecure_allowed:
        log.info(
            "The public URL %s %s (%s); used anyway: allow_insecure_public_url is set (development only).",
            result.url, result.problem, REQUIREMENT,
        )
        return
    log.warning(
        "The public URL %s %s, but it %s: webhooks are not registered, so store changes arrive only "
        "with the periodic sync. Set [host] public_url to the https address on port 443 that the "
        "stores reach, or [host] allow_insecure_public_url = true for local development.",
        result.url, result.problem, REQUIREMENT,
    )
