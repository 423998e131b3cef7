"""``act TENANT ACTION --input @file.jsonl``: one action per line, paced, with progress and a summary.

Every line runs in one session of the tenant, so one client and its pacer carry the whole batch: the pace
is the rate limit's (the client anchors 25 requests per 5 s on their answers), never a sleep of ours. A
line that fails is reported and the batch goes on; a tenant that must reconnect stops it. Resuming is
running the same file again: each line carries its idempotency key, a completed key answers from the state
without a request, and only the lines that failed or never ran do any work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fortnox_connector.errors import ConfigError, ConnectorError, ReconnectRequired


@dataclass
class BatchSummary:
    """Counts of one batch: lines done, created now, answered from an earlier run, failed; Fortnox load."""

    lines: int = 0
    done: int = 0
    created: int = 0
    existed: int = 0
    failed: int = 0
    requests: int = 0
    throttled: int = 0
    seconds: float = 0.0
    stopped: str | None = None  # why the batch stopped before its end (the tenant must reconnect)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "done": self.done,
            "created": self.created,
            "existed": self.existed,
            "failed": self.failed,
            "requests": self.requests,
            "rate_limited": self.throttled,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
        }


def read_lines(path: str, tenant: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, one per non-blank line; a bad line names its number."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read --input from {path}: {exc.strerror}",
            field="--input",
            tenant=tenant,
            hint="give the path of a JSON-lines file, one action input per line",
        ) from None
    items: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad_line(path, number, f"is not valid JSON ({exc.msg})", tenant) from None
        if not isinstance(item, dict):
            raise _bad_line(path, number, f"is a {type(item).__name__}, not a JSON object", tenant)
        items.append(item)
    return items


def run_batch(
    session: Any,
    action: str,
    items: list[dict[str, Any]],
    emit: Callable[[dict[str, Any]], None],
    progress: Callable[[BatchSummary], None] = lambda _s: None,
) -> BatchSummary:
    """Run ``action`` once per item in ``session``; ``emit`` gets each line's result, ``progress`` counts."""
    summary = BatchSummary(lines=len(items))
    bound = session.action(action)
    client = getattr(session.context, "client", None)
    start = time.monotonic()
    for number, item in enumerate(items, 1):
        try:
            output: Mapping[str, Any] = bound.run(item)
        except ReconnectRequired as exc:
            summary.stopped = str(exc)
            summary.failed += 1
            emit({"line": number, "ok": False, "error": str(exc), "hint": exc.hint})
            break
        except ConnectorError as exc:
            summary.failed += 1
            failure = {"line": number, "ok": False, "error": str(exc), "hint": exc.hint}
            summary.failures.append(failure)
            emit(failure)
        else:
            summary.done += 1
            if _existed(output):
                summary.existed += 1
            else:
                summary.created += 1
            emit({"line": number, "ok": True, "output": dict(output)})
        _count(summary, client, start)
        progress(summary)
    _count(summary, client, start)
    return summary


def _existed(output: Mapping[str, Any]) -> bool:
    """An answer from an earlier run, or a record that was in Fortnox already."""
    return bool(output.get("idempotent_replay")) or output.get("created") is False


def _count(summary: BatchSummary, client: Any, start: float) -> None:
    summary.seconds = time.monotonic() - start
    if client is not None:
        summary.requests = int(getattr(client, "requests_sent", 0))
        summary.throttled = int(getattr(client, "throttled_responses", 0))


def _bad_line(path: str, number: int, why: str, tenant: str) -> ConfigError:
    return ConfigError(
        f"line {number} of {path} {why}",
        field="--input",
        tenant=tenant,
        hint="each line must be one JSON object: the action's input",
    )
