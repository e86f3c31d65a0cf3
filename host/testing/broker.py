"""A Redis broker for tests and benchmarks of the ``celery`` executor.

``redis_broker()`` starts a throwaway ``redis-server`` on a free loopback port (nothing saved
to disk) when the binary is installed, else uses one on 127.0.0.1:6379 (database 15, emptied
first), and yields its URL; it raises ``BrokerUnavailable`` saying why when neither is there.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

MACHINE_REDIS = "redis://127.0.0.1:6379/15"


class BrokerUnavailable(RuntimeError):
    """No Redis to use: the message says what is missing."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@contextmanager
def redis_broker() -> Iterator[str]:
    try:
        import redis
    except ImportError as error:
        raise BrokerUnavailable("the redis client is not installed (pip install 'celery[redis]')") from error
    binary = shutil.which("redis-server")
    if binary is None:
        if not _answers(MACHINE_REDIS):
            raise BrokerUnavailable("no redis-server binary to start one, and none answers on 127.0.0.1:6379")
        redis.Redis.from_url(MACHINE_REDIS).flushdb()
        yield MACHINE_REDIS
        return
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with tempfile.TemporaryDirectory(prefix="host-redis-") as folder:
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not _answers(url):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise BrokerUnavailable(f"redis-server did not start on port {port}")
                time.sleep(0.05)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)
