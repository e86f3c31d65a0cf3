"""``serve(app)``: a WSGI app on an ephemeral loopback port, for the length of a ``with`` block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def serve(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve a WSGI app (a Flask fake of your platform, an emulator, the host itself) in a
    thread on a free loopback port; yield its base URL, e.g. ``http://127.0.0.1:40123``."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
