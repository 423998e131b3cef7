"""`fortnox-connector stream` as a process: SIGKILL it, restart it, and nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.store import SqliteStore
from fortnox_connector.sandbox import Sandbox
from tests.runtime.runtime_support import add_connected, sandbox_env, settings_for
from tests.stream.support import TIMEOUT, Lines

pytestmark = pytest.mark.sandbox(feed=True)


@contextmanager
def listener(
    env: dict[str, str], out: Path, command: tuple[str, ...] = ("stream", "--status-every", "0")
) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """A CLI command in its own process (default: the stream, a summary line after every item)."""
    cmd = [sys.executable, "-m", "fortnox_connector.runtime.cli", *command]
    cmd += ["--sink", "file", "--sink-option", f"path={out}"]
    lines = Lines()
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env) as proc:  # noqa: S603
        assert proc.stderr is not None
        stderr = proc.stderr

        def read() -> None:
            for line in stderr:
                lines(line.strip())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            yield proc, lines
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.wait(TIMEOUT)
            reader.join(TIMEOUT)


def delivered(count: int) -> Callable[[str], bool]:
    return lambda line: line.startswith(f"stream: {count} event(s) delivered")


def prepared(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    """A state directory with tenant acme connected; the environment a process needs to use it."""
    key = Fernet.generate_key()
    home = tmp_path / "home"
    settings = settings_for(sandbox, home)
    with Runtime(settings=settings, store=SqliteStore(settings.db_path, key), pacers=PacerRegistry()) as rt:
        add_connected(rt, sandbox, "acme", sandbox.tenant_ids()[0])
    return {
        **os.environ,
        **sandbox_env(sandbox, home),
        "FORTNOX_CONNECTOR_KEY": key.decode(),
        "FORTNOX_FEED_URL": sandbox.feed_url,
    }


def test_serve_with_stream_also_streams_and_stops_on_sigterm(sandbox: Sandbox, tmp_path: Path) -> None:
    env = prepared(sandbox, tmp_path)
    with listener(env, tmp_path / "events.jsonl", ("serve", "--stream")) as (proc, lines):
        lines.wait(lambda line: line.startswith("stream streaming, 1 tenant(s)"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0
    lines.wait(lambda line: line.startswith("stream stopped"))


def test_a_killed_listener_resumes_at_the_committed_offset_and_loses_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = prepared(sandbox, tmp_path)
    company = sandbox.tenant_ids()[0]
    docs = [str(sandbox.add_invoice(company, Total="100.00")["DocumentNumber"]) for _ in range(6)]

    def book(doc: str) -> str:
        number = str(sandbox.add_payment(company, doc, AmountCurrency="10.00")["Number"])
        sandbox.book_payment(company, number)
        return f"fortnox:acme:payment:{number}:booked"

    out = tmp_path / "events.jsonl"
    with listener(env, out) as (proc, lines):
        lines.wait(lambda line: line.startswith("stream streaming"))
        before = {book(doc) for doc in docs[:3]}
        lines.wait(delivered(3))
        proc.send_signal(signal.SIGKILL)
        proc.wait(TIMEOUT)
    after = {book(doc) for doc in docs[3:]}  # booked while nothing listens
    with listener(env, out) as (proc, lines):
        lines.wait(lambda line: "resumed at offset" in line)
        lines.wait(delivered(3))
        secrets = [sandbox.client_secret, *sandbox.oauth.access, *sandbox.oauth.refresh]
    keys = [json.loads(line)["dedup_key"] for line in out.read_text().splitlines()]
    assert sorted(keys) == sorted(before | after)  # all six, each once
    text = "\n".join(lines.lines) + out.read_text()
    assert not [s for s in secrets if s in text]  # no secret or token in status lines or events
