"""The one place that sorts BigCommerce HTTP failures into configuration, transient or record errors.

Every message says what the merchant (or the admin) can do about it; none carries a token.
"""

from __future__ import annotations

import requests

from host.errors import ConfigurationError, RecordError, SyncError, TransientError

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 507})


def describe(response: requests.Response) -> str:
    """BigCommerce's own words from a v2 (``[{status, message}]``) or v3 (``{title}``) error body."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or f"HTTP {response.status_code}"
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("message") or response.reason)
    if isinstance(body, dict):
        return str(body.get("title") or body.get("message") or response.reason)
    return response.reason or f"HTTP {response.status_code}"


def classify(response: requests.Response, *, area: str | None = None) -> SyncError:
    """The error to raise for a failed answer (after retries, for the retryable ones)."""
    status = response.status_code
    what = describe(response)
    if status == 401:
        return ConfigurationError(
            "BigCommerce no longer accepts this app's access token for your store. Open the app from your "
            "BigCommerce control panel (reinstall it if asked) so the connection can be renewed.",
            area=area,
            code="bigcommerce_unauthorized",
        )
    if status == 403:
        return ConfigurationError(
            f"The app is missing a BigCommerce permission it needs to read {area or 'your store'} "
            f"({what}). Reinstall the app from your control panel and accept all the permissions it asks for.",
            area=area,
            code="bigcommerce_scope",
        )
    if status in RETRYABLE_STATUSES:
        return TransientError(
            f"BigCommerce kept answering {status} ({what}); the sync will try again at the next cycle.",
            area=area,
        )
    return RecordError(f"BigCommerce refused the request: {status} {what}", area=area)


def unreachable(error: requests.RequestException, *, area: str | None = None) -> TransientError:
    """A timeout or connection failure that outlived the retries."""
    kind = "timed out" if isinstance(error, requests.Timeout) else "could not be reached"
    return TransientError(
        f"BigCommerce {kind}; the sync will try again at the next cycle.", area=area
    )
