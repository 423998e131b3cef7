"""End to end over loopback: connect → run → webhook → SIGKILL mid-backfill → run again: nothing lost.

The runtime runs as a real ``fortnox-connector`` process. The receiver holds its answer to the 150th event
and signals the test, which kills the process with SIGKILL at that moment (mid-backfill, mid-delivery).
The second run must deliver every payment at least once; an event delivered twice has the same dedup key
(and Idempotency-Key) both times.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from fortnox_connector.runtime.browser import approve
from fortnox_connector.runtime.connect import connect
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.e2e.receiver import webhook_receiver
from tests.runtime.runtime_support import sandbox_env, settings_for

SECRET = "e2e-webhook-secret"
HOLD_AT = 150


def _command() -> list[str]:
    script = Path(sys.executable).with_name("fortnox-connector")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fortnox_connector.runtime.cli"]


def _run(env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
        [*_command(), "run", "acme", "payment_received", "--sink", "webhook", "--sink-option", f"url={url}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _connect(settings: RuntimeSettings, company: int) -> None:
    with Runtime.open(settings) as runtime:
        runtime.store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
        runtime.store.save_config("acme", {"emit_unbooked_payments": True})
        connect(runtime, "acme", open_url=lambda url: approve(url, company=company), timeout=10)


@pytest.mark.sandbox(start=None, frozen_clock=False)  # the runtime process reads the real clock
def test_sigkill_mid_backfill_then_rerun_delivers_every_event(sandbox: Sandbox, tmp_path: Path) -> None:
    company = sandbox.tenant_ids()[0]
    sandbox.seed_payments(company, 600)  # 620 payments: two pages of 500
    home = tmp_path / "state"
    _connect(settings_for(sandbox, home), company)
    env = {**os.environ, **sandbox_env(sandbox, home), "FORTNOX_CONNECTOR_WEBHOOK_SECRET": SECRET}
    env.pop("FORTNOX_CONNECTOR_KEY", None)  # both processes use the key file in the state directory

    with webhook_receiver(Secret(SECRET), hold_after=HOLD_AT) as (url, box):
        first = _run(env, url)

        def on_exit() -> None:  # if the process ends on its own, stop waiting for the held request
            first.wait()
            box.held.set()

        threading.Thread(target=on_exit, daemon=True).start()
        try:
            assert box.held.wait(60), "the runtime never delivered 150 events"
            assert first.poll() is None, first.communicate()[1].decode()[-2000:]
            first.send_signal(signal.SIGKILL)
        finally:
            first.communicate(timeout=30)  # reaps it and closes its pipes
        assert first.returncode == -signal.SIGKILL
        box.release.set()
        delivered_before_kill = len(box.events)
        assert delivered_before_kill == HOLD_AT  # nothing after the held request

        second = _run(env, url)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 0, err.decode()

    expected = {str(p["Number"]) for p in sandbox.payments(company)}
    assert len(expected) == 620
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in box.events:
        by_key[str(event["dedup_key"])].append(event)
    numbers = {str(event["payload"]["payment_number"]) for event in box.events}
    assert numbers == expected  # every payment delivered at least once: none lost
    assert len(by_key) == len(expected)  # one dedup key per payment
    repeats = {k: v for k, v in by_key.items() if len(v) > 1}
    assert repeats, "the events of the killed delivery are sent again"
    for key, copies in repeats.items():
        assert {c["_idempotency_key"] for c in copies} == {key}
        assert len({str(c["payload"]["payment_number"]) for c in copies}) == 1
    assert box.bad_signatures == 0
    assert len(box.events) - len(expected) <= HOLD_AT  # only the interrupted chunk is sent twice
