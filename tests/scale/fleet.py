"""Real parts for the Temporal tests: tenants in PostgreSQL from the sandbox, and worker processes.

A ``Fleet`` is one test's world: a PostgreSQL database, a task queue of its own on the session's Temporal
dev server, the sandbox and a webhook receiver; ``start_worker`` runs ``fortnox-connector temporal worker``
as a real process (killable with SIGKILL).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from cryptography.fernet import Fernet
from temporalio.client import Client

from fortnox_connector.contract.state import Token
from fortnox_connector.runtime.store.postgres import PostgresStore
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret

T = TypeVar("T")
WEBHOOK_SECRET = "scale-webhook-secret"


def cli() -> list[str]:
    script = Path(sys.executable).with_name("fortnox-connector")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fortnox_connector.runtime.cli"]


def tenant_name(i: int) -> str:
    return f"t{i:03d}"


@dataclass
class Fleet:
    sandbox: Sandbox
    pg_url: str
    temporal_address: str
    home: Path
    receiver_url: str
    key: bytes = field(default_factory=Fernet.generate_key)
    task_queue: str = field(default_factory=lambda: f"q-{uuid.uuid4().hex[:8]}")
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def store(self) -> PostgresStore:
        return PostgresStore(self.pg_url, self.key)

    def add_tenants(self, count: int, *, expired: bool = True) -> list[str]:
        """``count`` sandbox companies as connected tenants (``expired``: their tokens need a refresh)."""
        names = []
        with self.store() as store:
            for i, company in enumerate(self.sandbox.tenant_ids()[:count]):
                name = tenant_name(i)
                store.add_tenant(
                    name, display_name=name, auth_mode="authorization_code", fortnox_tenant_id=str(company)
                )
                answer = self.sandbox.issue_token(company)
                when = datetime.now(UTC) + (timedelta(minutes=-1) if expired else timedelta(hours=1))
                token = Token(
                    Secret(str(answer["access_token"])),
                    when,
                    frozenset(str(answer["scope"]).split()),
                    Secret(str(answer["refresh_token"])),
                )
                assert store.swap_token(name, None, token)
                names.append(name)
        return names

    def env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FORTNOX_", "TEMPORAL_"))},
            "FORTNOX_CONNECTOR_HOME": str(self.home),
            "FORTNOX_CONNECTOR_STORE": self.pg_url,
            "FORTNOX_CONNECTOR_KEY": self.key.decode(),
            "FORTNOX_CONNECTOR_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "FORTNOX_CLIENT_ID": self.sandbox.client_id,
            "FORTNOX_CLIENT_SECRET": self.sandbox.client_secret,
            "FORTNOX_API_URL": self.sandbox.base_url,
            "FORTNOX_AUTH_URL": self.sandbox.base_url,
            "TEMPORAL_ADDRESS": self.temporal_address,
        }

    def start_worker(
        self, *, concurrency: int = 8, sync_every: float = 0, log_level: str = "WARNING"
    ) -> subprocess.Popen[bytes]:
        """``fortnox-connector temporal worker`` delivering to the receiver; returns once it polls.

        ``sync_every`` 0 (the default) keeps its Schedule keeper off: tests share one Temporal namespace,
        and a keeper removes Schedules of tenants its store does not have."""
        process = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            [
                *cli(),
                "temporal",
                "--task-queue",
                self.task_queue,
                "worker",
                "--concurrency",
                str(concurrency),
                "--sync-schedules-every",
                str(sync_every),
                "--sink",
                "webhook",
                "--sink-option",
                f"url={self.receiver_url}",
                "--sink-option",
                "batch=true",
            ],
            env={**self.env(), "FORTNOX_CONNECTOR_LOG_LEVEL": log_level},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert process.stderr is not None
        said = b""
        while b"worker ready" not in said:  # once it polls (log lines may come first at INFO)
            line = process.stderr.readline()
            assert line, said + process.stderr.read()  # it stopped: the error that stopped it
            said += line
        self.workers.append(process)
        return process

    def stop(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - only if a worker hangs
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()

    def run(self, work: Callable[[Client], Awaitable[T]], *, timeout_s: float = 240) -> T:
        """Run ``work`` with a Temporal client on a new event loop; a hang fails the test, never blocks it."""

        async def go() -> T:
            client = await Client.connect(self.temporal_address)
            return await asyncio.wait_for(work(client), timeout_s)

        return asyncio.run(go())
