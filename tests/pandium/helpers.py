"""Pandium-mode test helpers: the environment a run gets, fake triggers, running ``main`` in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event, PollResult, RunSummary, TriggerSpec
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.runtime.pandium import Overrides, run
from fortnox_connector.sandbox import Sandbox

TENANT_ID = "4711"


def pandium_env(sandbox: Sandbox, token: str, **extra: str) -> dict[str, str]:
    """What Pandium injects into a normal run of a connected tenant (first run: no LAST_* yet)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/home/pandium",
        "PAN_CTX_INTEGRATION_ID": "12",
        "PAN_CTX_INTEGRATION_NAME": "Fortnox payments",
        "PAN_CTX_TENANT_ID": TENANT_ID,
        "PAN_CTX_TENANT_NAME": "Acme AB",
        "PAN_CTX_ENV": "dev",
        "PAN_CTX_RUN_MODE": "normal",
        "PAN_CTX_RUN_TRIGGERS": json.dumps([{"id": "1", "source": "schedule", "mode": "normal"}]),
        "PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN": token,
        "PAN_SEC_FORTNOX_OAUTH_SCOPE": "invoice payment companyinformation settings",
        "PAN_SEC_FORTNOX_OAUTH_EXPIRES_IN": "3600",
        "PAN_SEC_FORTNOX_OAUTH_CLIENT_ID": sandbox.client_id,
        "PAN_CFG_BACKFILL_DAYS": "30",
        "PAN_CFG_IGNORE_INVOICE_NUMBERS_BELOW": "0",
        "PAN_CFG_EVENT_DELIVERY": "stdout",
        "FORTNOX_API_URL": sandbox.base_url,
    }
    env.update(extra)
    return env


def next_run_env(env: Mapping[str, str], previous_stdout: str, **extra: str) -> dict[str, str]:
    """The environment of the run after a successful one: its stdout comes back, plus the LAST_* times."""
    return {
        **env,
        "PAN_CTX_LAST_SUCCESSFUL_RUN_STD_OUT": previous_stdout.strip(),
        "PAN_CTX_LAST_RUN_START_TIME": "2026-11-23 06:00:00 +0000 UTC",
        "PAN_CTX_LAST_RUN_COMPLETION_TIME": "2026-11-23 06:01:00 +0000 UTC",
        "PAN_CTX_LAST_RUN_PHASE": "Succeeded",
        "PAN_CTX_LAST_SUCCESSFUL_RUN_PHASE": "Succeeded",
        **extra,
    }


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def document(self) -> dict[str, Any]:
        """The one JSON document on stdout (fails the test when there is not exactly one)."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected one JSON document on stdout, got {len(lines)} lines"
        doc = json.loads(lines[0])
        assert isinstance(doc, dict)
        return doc

    def dedup_keys(self, trigger: str) -> list[str]:
        return [e["dedup_key"] for e in self.document[trigger]["events"]]


def run_pandium(env: Mapping[str, str], **overrides: Any) -> Result:
    stdout, stderr = io.StringIO(), io.StringIO()
    overrides.setdefault("pacers", PacerRegistry(limit=1000))
    code = run(env, stdout=stdout, stderr=stderr, overrides=Overrides(**overrides))
    return Result(code, stdout.getvalue(), stderr.getvalue())


@dataclass
class FakeSource:
    """A trigger over a growing list of items; the cursor is the index of the next item.

    ``pages`` items per poll; ``before_poll`` runs first on every poll (to touch Fortnox, move a clock, fail).
    """

    name: str
    items: list[int] = field(default_factory=list)
    page: int = 2
    before_poll: Callable[[TenantContext, int], None] | None = None
    polls: int = 0
    configs: list[Any] = field(default_factory=list)

    def poll(self, ctx: TenantContext, cursor: str | None) -> PollResult:
        self.polls += 1
        self.configs.append(ctx.config)
        start = int(cursor) if cursor is not None else 0
        if self.before_poll is not None:
            self.before_poll(ctx, start)
        end = min(start + self.page, len(self.items))
        events = [
            Event(
                trigger=self.name,
                tenant=ctx.tenant,
                dedup_key=f"{self.name}:{self.items[i]}",
                payload={"n": self.items[i], "amount": "100.50"},
            )
            for i in range(start, end)
        ]
        return PollResult(
            events=events,
            cursor=str(end),
            more=end < len(self.items),
            summary=RunSummary(pages=1, events=len(events)),
        )

    def spec(self) -> TriggerSpec[Any]:
        return TriggerSpec(name=self.name, description="fake", event_schema={}, poll=self.poll)


def specs(*sources: FakeSource) -> Sequence[TriggerSpec[Any]]:
    return [s.spec() for s in sources]
