"""Pieces both emulators share: request counting, fault injection, a threaded runner, seeded RNGs.

Public API (kept stable; add, do not rename):

- ``RequestCounter`` and ``install_request_counting(app, counter)``: counts per
  ``"METHOD /path/{template}"`` taken from Flask's ``url_rule``.
- ``FaultSettings``, ``FaultInjector`` and ``install_faults(app, injector, ...)``: a share of
  5xx answers, 429 bursts, added latency and dropped connections, tunable over HTTP at
  ``GET|POST /_emulator/faults``; and "applied" faults, where a write is carried out and then
  answered with a 5xx or a dropped connection, so the client cannot tell that it landed.
  ``dropped_response()`` is the answer that cuts the connection instead of being sent.
- ``serve(app, host, port)`` (blocking) and ``start_server(app, host, port)`` (background
  thread, for tests), both on werkzeug's threaded server.
- ``derive_rng(seed, *labels)`` and ``derive_seed(seed, *labels)``: independent, repeatable
  random streams, so one part of a generated store does not shift when another changes.
- ``OrjsonProvider``: Flask's JSON provider on orjson (``app.json = OrjsonProvider(app)``).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import orjson
from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.serving import BaseWSGIServer, make_server

EMULATOR_PREFIX = "/_emulator"
_CONVERTER = re.compile(r"<(?:[a-zA-Z_]+(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>")


# --------------------------------------------------------------------------- deterministic RNG
def derive_seed(seed: int, *labels: object) -> int:
    """A 64-bit seed derived from ``seed`` and labels; stable across runs and Python versions."""
    text = ":".join([str(seed), *map(str, labels)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def derive_rng(seed: int, *labels: object) -> random.Random:
    """A ``random.Random`` for one labelled part of the data (e.g. ``derive_rng(7, "customer", 42)``)."""
    return random.Random(derive_seed(seed, *labels))


# --------------------------------------------------------------------------- request counting
def rule_template(rule: str) -> str:
    """Turn a Flask rule (``/stores/<store_hash>/v2/orders/<int:order_id>``) into ``{name}`` form."""
    return _CONVERTER.sub(r"{\1}", rule)


class RequestCounter:
    """Thread-safe counts of requests per ``"METHOD /path/{template}"``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def get(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def install_request_counting(
    app: Flask, counter: RequestCounter, skip_prefix: str = EMULATOR_PREFIX
) -> None:
    """Count every routed request (faulted ones too) except the emulator's own control paths.

    Register this before ``install_faults`` so a request answered with an injected fault still
    counts: a client's call budget includes its retries.
    """

    @app.before_request
    def _count_request() -> None:
        rule = request.url_rule
        if rule is None or request.path.startswith(skip_prefix):
            return
        counter.add(f"{request.method} {rule_template(rule.rule)}")


# --------------------------------------------------------------------------- fault injection
class DroppedConnection(ConnectionError):
    """Raised in-process (Flask test client) where there is no socket to cut."""


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FAULTED = "emulator.fault"  # request.environ key: a fault was injected into this request


@dataclass
class FaultSettings:
    """What to inject. Every knob is off by default.

    error_rate: share (0..1) of requests answered with one of ``error_statuses``.
    burst_429_every: every Nth faultable request opens a burst of ``burst_429_length`` 429s.
    pending_429: one-shot: the next N faultable requests get 429 (a burst right now).
    latency_ms: delay added to every request (``latency_rate`` share of them, default all).
    drop_rate: share of requests whose connection is closed with no answer.

    The knobs above answer *instead of* handling the request: nothing changes. The "applied"
    knobs below let a write (POST, PUT, PATCH, DELETE; never GET) run and change the emulator's
    state, then throw its answer away, so the client cannot tell whether its write landed.
    They only fire on a write the service accepted (status below 400): a refused write (401,
    422, ...) changed nothing and keeps its answer, and does not use up a one-shot.

    applied_error_rate: share of writes applied, then answered with one of ``error_statuses``
        in the service's error shape.
    applied_drop_rate: share of writes applied, then the connection is closed with no answer.
    pending_applied_errors: one-shot: the next N accepted writes are applied, then answered
        with an error.
    pending_applied_drops: one-shot: the next N accepted writes are applied, then dropped
        (taken before ``pending_applied_errors`` and the rates).

    only_paths: if set, faults apply only to paths containing one of these substrings.
    seed: seeds the fault RNG, so a single-threaded run repeats exactly.
    """

    error_rate: float = 0.0
    error_statuses: list[int] = field(default_factory=lambda: [500, 502, 503])
    burst_429_every: int = 0
    burst_429_length: int = 3
    pending_429: int = 0
    latency_ms: int = 0
    latency_rate: float = 1.0
    drop_rate: float = 0.0
    applied_error_rate: float = 0.0
    applied_drop_rate: float = 0.0
    pending_applied_errors: int = 0
    pending_applied_drops: int = 0
    only_paths: list[str] = field(default_factory=list)
    seed: int = 0


class FaultInjector:
    """Decides, per request, which fault (if any) to inject. Thread-safe."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = settings or FaultSettings()
        self._rng = random.Random(self._settings.seed)
        self._seen = 0
        self.injected: Counter[str] = Counter()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def configure(self, **changes: object) -> FaultSettings:
        """Change some knobs; unknown names raise ``ValueError``. Returns the new settings."""
        known = {f.name for f in fields(FaultSettings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        with self._lock:
            values = asdict(self._settings) | changes
            self._settings = FaultSettings(**values)
            if "seed" in changes:
                self._rng = random.Random(self._settings.seed)
            return self._settings

    def reset(self) -> None:
        with self._lock:
            self._settings = FaultSettings()
            self._rng = random.Random(0)
            self._seen = 0
            self.injected.clear()

    def decide(self, path: str) -> tuple[str | None, int, float]:
        """Return ``(fault, status, delay_seconds)``; fault is None, "error", "429" or "drop"."""
        with self._lock:
            s = self._settings
            if s.only_paths and not any(part in path for part in s.only_paths):
                return None, 0, 0.0
            self._seen += 1
            delay = 0.0
            if s.latency_ms and self._rng.random() < s.latency_rate:
                delay = s.latency_ms / 1000.0
            fault, status = None, 0
            if s.burst_429_every and self._seen % s.burst_429_every == 0:
                self._settings.pending_429 += s.burst_429_length
            if self._settings.pending_429 > 0:
                self._settings.pending_429 -= 1
                fault, status = "429", 429
            elif s.drop_rate and self._rng.random() < s.drop_rate:
                fault = "drop"
            elif s.error_rate and self._rng.random() < s.error_rate:
                fault, status = "error", self._rng.choice(s.error_statuses or [500])
            if fault:
                self.injected[fault] += 1
            return fault, status, delay

    def decide_applied(self, method: str, path: str) -> tuple[str | None, int]:
        """After an accepted request: ``(fault, status)``, fault None, "applied_error" or
        "applied_drop". Only writes (``WRITE_METHODS``) are ever picked."""
        with self._lock:
            s = self._settings
            if method.upper() not in WRITE_METHODS:
                return None, 0
            if s.only_paths and not any(part in path for part in s.only_paths):
                return None, 0
            fault, status = None, 0
            if s.pending_applied_drops > 0:
                s.pending_applied_drops -= 1
                fault = "applied_drop"
            elif s.pending_applied_errors > 0:
                s.pending_applied_errors -= 1
                fault = "applied_error"
            elif s.applied_drop_rate and self._rng.random() < s.applied_drop_rate:
                fault = "applied_drop"
            elif s.applied_error_rate and self._rng.random() < s.applied_error_rate:
                fault = "applied_error"
            if fault == "applied_error":
                status = self._rng.choice(s.error_statuses or [500])
            if fault:
                self.injected[fault] += 1
            return fault, status


def drop_connection() -> None:
    """Close the client's socket without answering (werkzeug dev server), else raise.

    Raising out of a Flask hook makes Flask log the error and build a 500 (which then fails to
    reach the closed socket); ``dropped_response()`` avoids both.
    """
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        raise DroppedConnection("emulator dropped the connection")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    raise DroppedConnection("emulator dropped the connection")


def dropped_response() -> Response:
    """A response that cuts the connection instead of being sent.

    Nothing happens until the server starts to send the body: then, on werkzeug's dev server,
    the client's socket is shut down (both directions) before a byte of status or headers is
    written, and ``DroppedConnection`` (a ``ConnectionError``) is raised, which werkzeug treats
    as a connection the client dropped: it writes nothing more and logs no error. The server
    closes the socket as usual afterwards. Where there is no socket (Flask test client) the
    same ``DroppedConnection`` comes out of the client's call.
    """
    sock = request.environ.get("werkzeug.socket")

    def _body():
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise DroppedConnection("emulator dropped the connection")
        yield b""  # pragma: no cover  (makes this a generator: runs when the body is sent)

    return Response(_body(), status=500, mimetype="application/json")


def install_faults(
    app: Flask,
    injector: FaultInjector,
    error_response: Callable[[int], Response],
    too_many_requests_response: Callable[[], Response],
    skip_prefix: str = EMULATOR_PREFIX,
) -> None:
    """Inject faults around each API request and expose ``GET|POST /_emulator/faults``.

    A ``before_request`` hook injects latency and the faults that answer instead of the view
    (429, 5xx, drop). An ``after_request`` hook injects the "applied" faults: the view has run
    and its state change stands (views take and release the emulator's lock themselves), then
    its answer is replaced by ``error_response(status)`` or by a dropped connection.
    ``error_response(status)`` and ``too_many_requests_response()`` build the answers in the
    emulated service's own error shape (and, for 429, its rate-limit headers).
    POST takes a JSON object of ``FaultSettings`` fields; ``{"reset": true}`` turns all off.
    """

    def _faultable() -> bool:
        return not request.path.startswith(skip_prefix) and request.url_rule is not None

    @app.before_request
    def _inject_fault() -> Response | None:
        if not _faultable():
            return None
        fault, status, delay = injector.decide(request.path)
        if delay:
            time.sleep(delay)
        if fault:
            request.environ[_FAULTED] = fault
        if fault == "drop":
            return dropped_response()
        if fault == "429":
            return too_many_requests_response()
        if fault == "error":
            return error_response(status)
        return None

    @app.after_request
    def _inject_applied_fault(response: Response) -> Response:
        if (
            response.status_code >= 400
            or request.method not in WRITE_METHODS
            or request.environ.get(_FAULTED)
            or not _faultable()
        ):
            return response
        fault, status = injector.decide_applied(request.method, request.path)
        if fault:
            request.environ[_FAULTED] = fault
        if fault == "applied_drop":
            return dropped_response()
        if fault == "applied_error":
            answer = error_response(status)
            for name, value in response.headers.items():  # keep the rate-limit headers
                if "ratelimit" in name.lower().replace("-", ""):
                    answer.headers.setdefault(name, value)
            return answer
        return response

    def _faults_view() -> Response | tuple[Response, int]:
        if request.method == "POST":
            body = request.get_json(silent=True) or {}
            if body.pop("reset", False):
                injector.reset()
            try:
                injector.configure(**body)
            except (TypeError, ValueError) as error:
                return jsonify({"error": str(error)}), 400
        return jsonify({"settings": asdict(injector.settings), "injected": dict(injector.injected)})

    app.add_url_rule(
        f"{skip_prefix}/faults", "emulator_faults", _faults_view, methods=["GET", "POST"]
    )


# --------------------------------------------------------------------------- serving
def serve(app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve ``app`` on werkzeug's threaded server until interrupted (Ctrl-C)."""
    server = make_server(host, port, app, threaded=True)
    print(f" * {app.name} listening on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class RunningServer:
    """A server on a background thread; ``url`` is its base URL, ``stop()`` shuts it down."""

    def __init__(self, server: BaseWSGIServer, thread: threading.Thread) -> None:
        self.server = server
        self.thread = thread
        self.host = server.host
        self.port = server.server_port
        self.url = f"http://{server.host}:{server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_server(app: Flask, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start ``app`` on a daemon thread (port 0 = an ephemeral port) and return at once."""
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"serve-{app.name}", daemon=True)
    thread.start()
    return RunningServer(server, thread)


# --------------------------------------------------------------------------- fast JSON
@contextlib.contextmanager
def paused_gc():
    """No cyclic garbage collection inside: building millions of small objects at once (a 50 MB
    request body, an 80,000-contact import) otherwise runs a full collection every few
    hundred thousand allocations, which doubles the time. The previous setting comes back after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON provider on orjson: request bodies of tens of megabytes parse in a fraction
    of the standard library's time, and big answers (state documents, import reports) encode
    as fast. Output is compact UTF-8 (non-ASCII text is not ``\\u``-escaped) in the objects' own
    key order, with the trailing newline ``jsonify`` writes; whatever orjson refuses (NaN,
    integers beyond 64 bits, ...) goes through the standard library, so nothing parses or
    encodes differently from before."""

    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def dumps_bytes(self, obj: object) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=self._OPTIONS)
        except TypeError:
            return super().dumps(obj).encode()

    def dumps(self, obj: object, **kwargs: object) -> str:
        if kwargs:
            return super().dumps(obj, **kwargs)
        return self.dumps_bytes(obj).decode()

    def loads(self, s: str | bytes, **kwargs: object) -> object:
        if not kwargs:
            try:
                if len(s) < 1_000_000:
                    return orjson.loads(s)
                with paused_gc():
                    return orjson.loads(s)
            except orjson.JSONDecodeError:
                pass  # e.g. NaN, a huge integer: the standard library decides
        return super().loads(s, **kwargs)

    def response(self, *args: object, **kwargs: object) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.dumps_bytes(obj) + b"\n", mimetype=self.mimetype)
