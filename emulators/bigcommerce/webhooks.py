"""Delivery of thin webhook payloads to each registered destination, with retries (§6).

Every change fires events; each active hook whose scope matches (exactly, or by a trailing
``/*`` wildcard) gets a ``POST`` of ``{scope, store_id, data, hash, created_at, producer}``
with its custom headers and Standard-Webhooks signature headers (HMAC key = the hook owner's
client secret; whether BigCommerce signs every hook is UNCONFIRMED, so clients should rely on
the custom headers). A non-2xx answer, a timeout or a refused connection is retried after the
documented delays (60 s ... 86400 s, scalable with ``retry_scale`` for tests); after the last
failure the hook is deactivated (``is_active: false``). A retry resends the same body, so the
same ``hash``. Unlike BigCommerce, plain http and any port are accepted as destinations.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

DOCUMENTED_RETRY_DELAYS = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)


def scope_matches(hook_scope: str, event_scope: str) -> bool:
    if hook_scope.endswith("/*"):
        return event_scope.startswith(hook_scope[:-1])
    return hook_scope == event_scope


def build_payload(scope: str, store_id: int, store_hash: str, data: dict, created_at: int) -> dict:
    body = {"scope": scope, "store_id": str(store_id), "data": data, "created_at": created_at,
            "producer": f"stores/{store_hash}"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return {"scope": scope, "store_id": str(store_id), "data": data,
            "hash": hashlib.sha1(canonical.encode()).hexdigest(), "created_at": created_at,
            "producer": f"stores/{store_hash}"}


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks ``webhook-signature`` value (``v1,<base64 HMAC-SHA256>``)."""
    digest = hmac.new(secret.encode(), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookDispatcher:
    """Queues deliveries and sends them from a small thread pool."""

    def __init__(self, secret_for: Callable[[str], str | None], retry_delays=DOCUMENTED_RETRY_DELAYS,
                 retry_scale: float = 1.0, timeout: float = 5.0) -> None:
        self.secret_for = secret_for
        self.retry_delays = tuple(retry_delays)
        self.retry_scale = retry_scale
        self.timeout = timeout
        self.log: deque[dict] = deque(maxlen=2000)
        self._queue: list[tuple[float, int, dict]] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._in_flight = 0
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bc-webhook")
        self._thread: threading.Thread | None = None
        self._http = requests.Session()

    def publish(self, store, scope: str, data: dict) -> int:
        """Queue this event for every matching active hook of ``store``; returns how many."""
        created_at = int(time.time())
        queued = 0
        with store.lock:
            hooks = [dict(h) for h in store.hooks.values() if h["is_active"] and scope_matches(h["scope"], scope)]
        for hook in hooks:
            payload = build_payload(scope, store.spec.store_id, store.spec.store_hash, data, created_at)
            self._schedule(0, {"store": store, "hook_id": hook["id"], "payload": payload,
                               "message_id": f"msg_{uuid.uuid4().hex}", "attempt": 0})
            queued += 1
        return queued

    def _schedule(self, delay: float, delivery: dict) -> None:
        with self._condition:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._sequence), delivery))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bc-webhook-scheduler", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._queue or self._queue[0][0] > time.monotonic():
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._condition.wait(timeout=wait)
                _, _, delivery = heapq.heappop(self._queue)
                self._in_flight += 1
            self._pool.submit(self._deliver, delivery)

    def _deliver(self, delivery: dict) -> None:
        try:
            self._attempt(delivery)
        finally:
            with self._condition:
                self._in_flight -= 1
                self._condition.notify_all()

    def _attempt(self, delivery: dict) -> None:
        store, payload = delivery["store"], delivery["payload"]
        with store.lock:
            hook = store.hooks.get(delivery["hook_id"])
            hook = dict(hook) if hook and hook["is_active"] else None
        if hook is None:
            return
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "BigCommerce-Webhooks (emulator)"}
        secret = self.secret_for(hook["client_id"])
        if secret:
            headers |= {"webhook-id": delivery["message_id"], "webhook-timestamp": str(timestamp),
                        "webhook-signature": sign(secret, delivery["message_id"], timestamp, body)}
        headers |= hook.get("headers") or {}
        status, error = None, None
        try:
            response = self._http.post(hook["destination"], data=body, headers=headers, timeout=self.timeout)
            status = response.status_code
        except requests.RequestException as exc:
            error = type(exc).__name__
        ok = status is not None and 200 <= status < 300
        self.log.append({"hook_id": hook["id"], "destination": hook["destination"], "scope": payload["scope"],
                         "hash": payload["hash"], "attempt": delivery["attempt"], "status": status,
                         "error": error, "delivered": ok, "at": timestamp})
        if ok:
            return
        attempt = delivery["attempt"]
        if attempt < len(self.retry_delays):
            self._schedule(self.retry_delays[attempt] * self.retry_scale, delivery | {"attempt": attempt + 1})
        else:
            with store.lock:
                if hook["id"] in store.hooks:
                    store.hooks[hook["id"]]["is_active"] = False
                    store.hooks[hook["id"]]["updated_at"] = int(time.time())
            self.log.append({"hook_id": hook["id"], "deactivated": True, "at": int(time.time())})

    def pending(self) -> int:
        with self._condition:
            return len(self._queue) + self._in_flight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight (tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(timeout=min(remaining, 0.05))
            return True

    def clear(self) -> None:
        with self._condition:
            self._queue.clear()
            self.log.clear()
