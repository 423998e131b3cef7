"""Serving the web app with uvicorn in a background thread (``web`` in the foreground, ``serve --web``).

The listening socket is bound before the thread starts, so the address is known and connections made right
away wait in the socket's backlog instead of being refused: nobody has to wait for the server to "come up".
"""

from __future__ import annotations

import socket
import threading

import uvicorn
from starlette.applications import Starlette


class WebServer:
    """Bound at construction (``url`` is known, port 0 picks a free one); ``start(app)`` serves ``app``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080) -> None:
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(128)
        bound_host, bound_port = self._sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Starlette) -> WebServer:
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=5
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="web", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self._sock.close()

    def __enter__(self) -> WebServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
