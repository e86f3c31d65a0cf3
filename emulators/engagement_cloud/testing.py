"""Helpers for tests that drive the emulator in-process (Flask test client)."""

from __future__ import annotations

import base64
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse


def basic_auth(api_user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{api_user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class ApiCaller:
    """Calls one account's API through the test client, under a region's base path."""

    def __init__(self, app: Flask, api_user: str, password: str, region: str = "r1") -> None:
        self.client = app.test_client()
        self.headers = basic_auth(api_user, password)
        self.base = f"/{region}" if region else ""

    def call(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        headers = self.headers | kwargs.pop("headers", {})
        return self.client.open(self.base + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("DELETE", path, **kwargs)

    def control(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        """Call ``/_emulator/...`` (no auth, no region)."""
        return self.client.open(f"/_emulator{path}", method=method, **kwargs)

    def state(self) -> dict[str, Any]:
        return self.control("GET", "/state").get_json()
