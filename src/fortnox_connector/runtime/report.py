"""How runs look to people (rich progress bars and tables) and to scripts (JSON-ready dicts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from fortnox_connector.contract.records import RunSummary
from fortnox_connector.runtime.jobs import JobResult
from fortnox_connector.runtime.scheduler import TenantRun


def job_json(result: JobResult) -> dict[str, Any]:
    return {
        "tenant": result.tenant,
        "trigger": result.trigger,
        "run_id": result.run_id,
        "ok": result.ok,
        "status": result.status,
        "events": result.summary.events,
        "delivered": result.delivered,
        "redelivered": result.redelivered,
        "skipped_records": result.summary.skipped,
        "vanished": result.summary.vanished,
        "pages": result.summary.pages,
        "requests": result.summary.requests,
        "duration_s": round(result.summary.duration_s, 3),
        "complete": result.complete,
        "paused": result.paused,
        "skipped": result.skipped,
        "cursor": result.cursor,
        "error": str(result.error) if result.error else None,
    }


def tenant_run_json(report: TenantRun) -> dict[str, Any]:
    return {
        "tenant": report.tenant,
        "ok": report.ok,
        "paused": report.paused,
        "paused_reason": report.paused_reason,
        "error": str(report.error) if report.error else None,
        "runs": [job_json(r) for r in report.results],
    }


_STATUS_STYLE = {"ok": "green", "partial": "yellow", "paused": "yellow", "error": "red"}


def _status(result: JobResult) -> str:
    status = result.status
    return f"[{_STATUS_STYLE[status]}]{status}[/]"


def jobs_table(results: Sequence[JobResult], *, title: str | None = None, tenant: bool = True) -> Table:
    """One row per run; ``tenant=False`` leaves out the tenant column (one-tenant views such as the demo)."""
    columns = ["trigger", "status", "events", "skipped", "delivered", "pages", "requests", "seconds"]
    table = Table(*(["tenant", *columns] if tenant else columns), title=title)
    for r in results:
        row = [
            r.trigger,
            _status(r),
            str(r.summary.events),
            str(r.summary.skipped),
            str(r.delivered),
            str(r.summary.pages),
            str(r.summary.requests),
            f"{r.summary.duration_s:.2f}",
        ]
        table.add_row(*([r.tenant, *row] if tenant else row))
    return table


def problems_table(reports: Sequence[TenantRun]) -> Table | None:
    """Tenants that were paused or failed, with the error (which says the fix)."""
    rows = [r for r in reports if not r.ok]
    if not rows:
        return None
    table = Table("tenant", "problem", title="needs attention")
    for r in rows:
        text = (
            r.paused_reason
            or (str(r.error) if r.error else "")
            or next((str(j.error) for j in r.results if j.error), "")
        )
        table.add_row(r.tenant, text)
    return table


@contextmanager
def trigger_progress(console: Console, label: str) -> Iterator[Callable[[RunSummary], None]]:
    """A progress bar over pages (total once the trigger knows it) with the running counts of events,
    records skipped by the filters and Fortnox requests."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "pages · {task.fields[events]} events · {task.fields[skipped]} skipped · "
            "{task.fields[requests]} requests"
        ),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(label, total=None, events=0, skipped=0, requests=0)

        def update(summary: RunSummary) -> None:
            progress.update(
                task,
                completed=summary.pages,
                total=summary.total_pages,
                events=summary.events,
                skipped=summary.skipped,
                requests=summary.requests,
            )

        yield update
        task_state = progress.tasks[0]
        if task_state.total is None:
            progress.update(task, total=task_state.completed)
