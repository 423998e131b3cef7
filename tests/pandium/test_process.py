"""A real process, started as Pandium starts it: only the environment, stdout, stderr and an exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

from fortnox_connector.sandbox import Sandbox
from tests.pandium.helpers import pandium_env

Token = Callable[..., str]


def test_an_init_run_in_its_own_process(sandbox: Sandbox, sandbox_token: Token) -> None:
    token = sandbox_token()
    env = pandium_env(sandbox, token, PAN_CTX_RUN_MODE="init")
    env["PATH"] = os.environ.get("PATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "fortnox_connector.runtime.pandium"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["run"]["mode"] == "init"
    assert set(doc) >= {"payment_received", "invoice_paid", "modes_of_payment", "options"}
    assert token not in done.stdout + done.stderr
    assert all("tenant=4711 " in line for line in done.stderr.splitlines())
