"""``fortnox-connector pandium``, as PANDIUM.yaml runs it: one JSON document on stdout, logs on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fortnox_connector.sandbox import Sandbox
from tests.pandium.helpers import next_run_env, pandium_env

Token = Callable[..., str]
COMMAND = Path(sys.executable).with_name("fortnox-connector")


def run_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script
        [str(COMMAND), "pandium"],
        env={**env, "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# The command runs on the wall clock, so the sandbox's business clock starts now.
@pytest.mark.sandbox(start=datetime.now(UTC).replace(microsecond=0))
def test_the_console_command_runs_init_then_normal_then_resumes(
    sandbox: Sandbox, sandbox_token: Token
) -> None:
    token = sandbox_token()
    env = pandium_env(sandbox, token)

    init = run_command({**env, "PAN_CTX_RUN_MODE": "init"})
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["modes_of_payment"]

    first = run_command(next_run_env(env, init.stdout))
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == 1
    doc = json.loads(first.stdout)
    assert doc["payment_received"]["events"]
    assert doc["modes_of_payment"] == json.loads(init.stdout)["modes_of_payment"]

    second = run_command(next_run_env(env, first.stdout))
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["payment_received"]["events"] == []
    for done in (init, first, second):
        assert token not in done.stdout + done.stderr
