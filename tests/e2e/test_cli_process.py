"""The installed ``fortnox-connector`` command as a process: help, logging setup, the Pandium wiring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_crash_recovery import _command


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [*_command(), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_tenants_list_as_json_and_the_key_file(tmp_path: Path) -> None:
    env = {**os.environ, "FORTNOX_CONNECTOR_HOME": str(tmp_path)}
    env.pop("FORTNOX_CONNECTOR_KEY", None)
    done = _run(["--log-json", "--log-level", "INFO", "tenants", "list", "--json"], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert any("key" in str(line.get("message", line)) for line in lines)  # logs are JSON lines on stderr


def test_pandium_mode_is_wired_and_keeps_stdout_for_its_document(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAN_")}
    done = _run(["pandium"], env)
    assert done.returncode != 0  # no Pandium environment: a hard error
    assert done.stdout == ""  # stdout is only ever the one JSON document
    assert "PAN_" in done.stderr


def test_python_dash_m_runs_the_same_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fortnox_connector.runtime.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    for command in (
        "demo",
        "sandbox",
        "tenants",
        "connect",
        "check",
        "run",
        "act",
        "serve",
        "manifest",
        "pandium",
    ):
        assert command in done.stdout


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`serve` waits for the next slot on an event; SIGTERM sets it and the process exits 0."""
    import signal

    env = {
        **os.environ,
        "FORTNOX_CONNECTOR_HOME": str(tmp_path),
        "FORTNOX_CLIENT_ID": "an-app",
        "FORTNOX_CLIENT_SECRET": "its-secret",
        "FORTNOX_API_URL": "http://127.0.0.1:9",  # never called: the tenant is not due before 23:00
        "FORTNOX_AUTH_URL": "http://127.0.0.1:9",
    }
    env.pop("FORTNOX_CONNECTOR_KEY", None)
    assert _run(["tenants", "add", "acme"], env).returncode == 0
    proc = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
        [*_command(), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # blocks until serve is up and waiting
        assert "Serving 1 tenant(s)" in first
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
