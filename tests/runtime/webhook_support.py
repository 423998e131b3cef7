"""A scripted webhook receiver on 127.0.0.1 for the sink and delivery tests: it answers the statuses it is
given in order (then 200) and records every request with the status it got."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = int | tuple[int, dict[str, str]]  # a status, or a status with headers (e.g. a Location)


@dataclass
class Received:
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int  # what the receiver answered


@dataclass
class Receiver:
    """Answers with the scripted ``statuses`` in order (then 200) and records every request."""

    statuses: list[Answer] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def accepted_keys(self) -> list[str]:
        """The Idempotency-Key of every request answered with a 2xx, in order."""
        return [r.headers["idempotency-key"] for r in self.requests if 200 <= r.status < 300]


@contextmanager
def serve_receiver(path: str = "/hooks/fortnox?token=query-secret") -> Iterator[Receiver]:
    """Serve a ``Receiver`` on a random loopback port; its ``url`` ends in ``path``."""
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                answer = state.statuses.pop(0) if state.statuses else 200
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                received = {k.lower(): v for k, v in self.headers.items()}
                state.requests.append(Received(received, body, status))
            reply = b'{"error":"bad event"}' if status == 400 else b"{}"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
