"""Helpers shared by the BigCommerce emulator tests: spec validation and a tiny HTTP receiver."""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path

import pytest
from flask import Flask, request

from emulators.common import start_server

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO_ROOT.parent / "shared/reference/openapi/bigcommerce"
TOKEN = {"X-Auth-Token": "bc-emulator-token"}
STORE = "abc123xyz"


def require_specs() -> Path:
    if not SPEC_DIR.is_dir():
        pytest.skip(f"vendor OpenAPI specs not found at {SPEC_DIR} (CI provides them)")
    return SPEC_DIR


_SPECS: dict[str, object] = {}


def openapi(name: str):
    from openapi_core import OpenAPI

    if name not in _SPECS:
        _SPECS[name] = OpenAPI.from_file_path(str(require_specs() / name))
    return _SPECS[name]


def validate(spec_name: str, response, path: str, query: str = "", method: str = "GET",
             body: dict | None = None, drop: tuple[str, ...] = ()) -> None:
    """Validate a test-client ``response`` against the vendor spec, as if served by
    https://api.bigcommerce.com. ``drop`` removes keys from each object of a bare-array body
    (for the documented vendor-spec defects only)."""
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request, Response

    environ = EnvironBuilder(path=f"/stores/{STORE}{path}", base_url="https://api.bigcommerce.com",
                             query_string=query, method=method, headers=TOKEN, json=body).get_environ()
    if drop:
        data = response.get_json()
        for item in data if isinstance(data, list) else [data]:
            for key in drop:
                item.pop(key, None)
        response = Response(json.dumps(data), status=response.status_code, mimetype="application/json")
    openapi(spec_name).validate_response(WerkzeugOpenAPIRequest(Request(environ)), WerkzeugOpenAPIResponse(response))


def validate_component(spec_name: str, component: str, instance: object) -> None:
    """Validate ``instance`` against ``#/components/schemas/{component}`` of a vendor spec."""
    key = (spec_name, component)
    if key not in _VALIDATORS:
        from openapi_schema_validator import OAS30Validator

        schema = {"$ref": f"#/components/schemas/{component}", "components": _document(spec_name)["components"]}
        _VALIDATORS[key] = OAS30Validator(schema)
    _VALIDATORS[key].validate(instance)


_VALIDATORS: dict[tuple[str, str], object] = {}


@functools.cache
def _document(spec_name: str) -> dict:
    import yaml

    return yaml.safe_load((require_specs() / spec_name).read_text())


class Receiver:
    """A local HTTP endpoint that records requests and answers with a programmable status."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []  # popped per request; 200 when empty
        self.event = threading.Condition()
        self.app = Flask("receiver")

        @self.app.route("/<path:path>", methods=["GET", "POST"])
        def record(path: str):
            with self.event:
                self.requests.append({"path": "/" + path, "method": request.method, "args": request.args.to_dict(),
                                      "headers": dict(request.headers), "body": request.get_data(as_text=True)})
                status = self.statuses.pop(0) if self.statuses else 200
                self.event.notify_all()
            return "", status

        self.server = start_server(self.app)
        self.url = self.server.url

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        with self.event:
            self.event.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests)

    def stop(self) -> None:
        self.server.stop()
