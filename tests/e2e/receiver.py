"""A webhook receiver for end-to-end tests: a tiny http.server on 127.0.0.1 that checks signatures.

``hold_after=n``: the handler of the n-th event signals ``held`` and does not answer until ``release``
is set, so a test can kill the sender at a known point (no sleeping, no races on timing).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fortnox_connector.runtime.sinks.webhook import verify_signature
from fortnox_connector.secrets import Secret


@dataclass
class Received:
    secret: Secret
    hold_after: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        box = self.server.box
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = verify_signature(box.secret, dict(self.headers.items()), body)
        hold = False
        with box.lock:
            if not ok:
                box.bad_signatures += 1
            else:
                event = json.loads(body)
                event["_idempotency_key"] = self.headers.get("Idempotency-Key")
                box.events.append(event)
                hold = box.hold_after is not None and len(box.events) == box.hold_after
        if hold:
            box.held.set()
            box.release.wait(30)
        with suppress(OSError):
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, box: Received) -> None:
        self.box = box
        super().__init__(("127.0.0.1", 0), _Handler)


@contextmanager
def webhook_receiver(secret: Secret, *, hold_after: int | None = None) -> Iterator[tuple[str, Received]]:
    """Serve on 127.0.0.1 (random port); yields the URL and what was received."""
    box = Received(secret, hold_after)
    server = _Server(box)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/events", box
    finally:
        box.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
