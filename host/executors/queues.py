"""``/healthz``'s view of the ``celery`` executor's queues: each one's depth, and how long its
oldest task has waited (Redis; RabbitMQ says the depth only: a waiting message cannot be read
without taking it).
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask

from host.executors.celery_app import QUEUES, REDIS_SCHEMES, broker_url, get_celery


def queue_status(app: Flask) -> dict[str, Any]:
    """Each queue's depth and its oldest task's wait in seconds (None when not known), and the
    totals: all waiting tasks, the longest wait."""
    try:
        url = broker_url(app)
        queues = _redis_queues(url) if url.startswith(REDIS_SCHEMES) else _amqp_queues(app)
    except Exception as error:  # never the broker's address: it may hold a password
        return {"status": "error", "error": error.__class__.__name__}
    waits = [queue["oldest_waiting_seconds"] for queue in queues.values()]
    return {
        "status": "ok",
        "queue_depth": sum(queue["depth"] for queue in queues.values()),
        "oldest_waiting_seconds": max((wait for wait in waits if wait is not None), default=None),
        "queues": queues,
    }


def _redis_queues(url: str) -> dict[str, dict[str, Any]]:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return {
            queue: {
                "depth": client.llen(queue),
                # kombu pushes on the left and takes from the right: the oldest is last
                "oldest_waiting_seconds": _waited(client.lindex(queue, -1)),
            }
            for queue in QUEUES
        }
    finally:
        client.close()


def _amqp_queues(app: Flask) -> dict[str, dict[str, Any]]:
    """RabbitMQ: the depth from a passive declare; a waiting message cannot be read without
    taking it. A queue no worker declared yet holds nothing."""
    from amqp.exceptions import NotFound

    queues = {}
    with get_celery(app).connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
        for queue in QUEUES:
            channel = connection.channel()
            try:
                depth = channel.queue_declare(queue=queue, passive=True).message_count
            except NotFound:  # the broker closed this channel: the next queue gets a new one
                depth = 0
            else:
                channel.close()
            queues[queue] = {"depth": depth, "oldest_waiting_seconds": None}
    return queues


def _waited(message: bytes | None) -> float | None:
    if not message:
        return None
    try:
        enqueued = json.loads(message)["headers"]["enqueued_at"]
        return round(max(time.time() - float(enqueued), 0.0), 1)
    except (ValueError, KeyError, TypeError):
        return None
