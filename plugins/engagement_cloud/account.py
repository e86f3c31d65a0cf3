"""Connecting an account: check the credentials on r1, learn the region endpoint (reference §1.3).

Account-info is always asked on the r1 host (``api_base_url``); its ``ApiEndpoint`` property
names the account's own region host, used for every later call. Answers and their messages:
401 → wrong username or password, or a locked or disabled API user (the service answers all
three alike); 403 → the API user is refused access; no answer → the service is unreachable.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from host.destinations import AccountInfo
from host.errors import ConfigurationError, TransientError

from .client import ApiError, EngagementCloudClient
from .config import Settings

if TYPE_CHECKING:
    from host.models import Connection

REGION_IN_URL = re.compile(r"(?:^|[/.])(r\d+)(?=[-./]|$)")
CHECK_ATTEMPTS = 3  # the merchant is waiting on the page: fail fast


def region_of(endpoint: str) -> str | None:
    """``r2`` from ``https://r2-api.dotdigital.com`` (or an emulator's ``http://host/r2``)."""
    without_scheme = endpoint.split("://", 1)[-1]
    match = REGION_IN_URL.search(without_scheme)
    return match.group(1) if match else None


def _property(info: dict, name: str) -> str | None:
    for item in info.get("properties") or []:
        if isinstance(item, dict) and str(item.get("name", "")).lower() == name.lower():
            value = item.get("value")
            return str(value) if value not in (None, "") else None
    return None


def check_credentials(settings: Settings, credentials: dict[str, str]) -> AccountInfo:
    """Verify an API user; answer its account and region endpoint, or a message to act on."""
    username = (credentials.get("username") or credentials.get("api_user") or "").strip()
    password = credentials.get("password") or ""
    if not username or not password:
        raise ConfigurationError(
            "Enter the Engagement Cloud API username and password.", area="connection", code="destination_credentials"
        )
    client = EngagementCloudClient(settings.api_base_url, username, password, settings)
    try:
        info = client.send("GET", "/v2/account-info", max_attempts=CHECK_ATTEMPTS).body
    except ApiError as error:  # a 401 is already a ConfigurationError (client.credentials_refused)
        if error.status == 403:
            raise ConfigurationError(
                "Engagement Cloud refused access for this API user: it may be locked or disabled. "
                "Check its status under Settings › Access › API users, or create a new API user.",
                area="connection", code="destination_access_denied",
            ) from None
        raise ConfigurationError(
            f"Engagement Cloud could not check these credentials ({error.status}: {error.message}).",
            area="connection", code="destination_credentials",
        ) from None
    except TransientError:
        raise ConfigurationError(
            "Engagement Cloud could not be reached to check the credentials. Try again in a few minutes.",
            area="connection", code="destination_unreachable",
        ) from None
    if not isinstance(info, dict):
        raise ConfigurationError(
            "Engagement Cloud answered the credentials check in an unexpected way. Try again later.",
            area="connection", code="destination_unreachable",
        )
    endpoint = (_property(info, "ApiEndpoint") or settings.api_base_url).rstrip("/")
    data = {
        "api_endpoint": endpoint,
        "region": region_of(endpoint),
        "account_id": info.get("id"),
        "account_name": _property(info, "Name"),
        "main_email": _property(info, "MainEmail"),
    }
    return AccountInfo(account=username, data=data, secrets={"username": username, "password": password})


def client_for(connection: Connection, settings: Settings) -> EngagementCloudClient:
    """A client for a connected account, at its region endpoint."""
    secrets = connection.destination_secrets or {}
    endpoint = (connection.destination_data or {}).get("api_endpoint")
    if not secrets.get("username") or not secrets.get("password") or not endpoint:
        raise ConfigurationError(
            "No Engagement Cloud account is connected: connect one on the Store tab.",
            area="connection", code="destination_not_connected",
        )
    return EngagementCloudClient(endpoint, secrets["username"], secrets["password"], settings)
