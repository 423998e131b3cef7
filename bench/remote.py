"""The parent's handle on a ``bench.server`` process: start, control API, CPU time, stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import httpx

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (``/proc/<pid>/stat``, Linux)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass
class RemoteSandbox:
    proc: subprocess.Popen[str]
    base_url: str
    tenant: int
    token: str
    client_id: str
    payments: int
    seed_s: float

    @classmethod
    def start(
        cls, payments: int, *, rate_limit: bool, latency: float = 0.0, jitter: float = 0.0
    ) -> RemoteSandbox:
        cmd = [sys.executable, "-m", "bench.server", "--payments", str(payments)]
        cmd += ["--latency", str(latency), "--jitter", str(jitter)]
        if rate_limit:
            cmd.append("--rate-limit")
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            raise RuntimeError(f"bench.server exited with {proc.returncode} before it was ready")
        ready = json.loads(line)
        return cls(proc=proc, **ready)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        answer = httpx.request(method, f"{self.base_url}/_sandbox/{path}", json=body, timeout=60)
        answer.raise_for_status()
        return answer.json()

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "stats")
        return result

    def now(self) -> datetime:
        return datetime.fromisoformat(self.control("GET", "clock")["now"])

    def advance(self, seconds: float) -> None:
        self.control("POST", "clock", {"advance": seconds})

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> RemoteSandbox:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class SandboxClock:
    """``ctx.now`` for the trigger: the sandbox's business time (real time plus what the bench advanced)."""

    def __init__(self, sandbox: RemoteSandbox) -> None:
        self._offset = sandbox.now() - datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset
