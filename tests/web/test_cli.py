"""``fortnox-connector web --demo`` as a person starts it: a process, its address and token on stderr."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])


def test_web_demo_command_serves_the_operator_pages_until_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "fortnox_connector.runtime.cli",
        "web",
        "--demo",
        "--listen",
        "127.0.0.1:0",
    ]
    env = {**os.environ, "COLUMNS": "200"}
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) as proc:  # noqa: S603
        assert proc.stderr is not None
        lines: list[str] = []
        match = None
        while match is None and len(lines) < 50:  # log lines (the lapsed tenant's pause) come first
            lines.append(proc.stderr.readline())
            match = re.search(r"Operator pages: (http://127\.0\.0\.1:\d+)/tenants", lines[-1])
        assert match is not None, lines
        token = proc.stderr.readline().strip()
        url = match.group(1)
        assert httpx.get(f"{url}/tenants").status_code == 401
        page = httpx.get(f"{url}/tenants", auth=("operator", token))
        assert page.status_code == 200
        assert "Acme Åkeri AB" in page.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
