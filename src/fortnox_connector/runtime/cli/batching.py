"""``act … --input @file.jsonl``: the batch form of ``act`` (``runtime.batch``) with a progress bar.

Results go to stdout as JSON lines (``{"line", "ok", "output"|"error", "hint"}``), the progress bar and the
summary to stderr, and the run to run history as ``act-batch:<action>`` with the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from fortnox_connector.errors import ReconnectRequired
from fortnox_connector.runtime.batch import BatchSummary, read_lines, run_batch
from fortnox_connector.runtime.cli.app import err_console, to_json
from fortnox_connector.runtime.context import Runtime


def is_batch(value: str) -> bool:
    """``@path.jsonl`` (or ``.ndjson``) is a batch; any other ``--input`` is one action's input."""
    return value.startswith("@") and value.lower().endswith((".jsonl", ".ndjson"))


def run_batch_file(
    runtime: Runtime, tenant: str, action: str, path: str, *, show_progress: bool
) -> BatchSummary:
    items = read_lines(path, tenant)
    store = runtime.store
    record = store.require_tenant(tenant)
    if record.paused:
        raise ReconnectRequired(
            f"the tenant is paused: {record.paused_reason}",
            tenant=tenant,
            hint=f"run `fortnox-connector connect {tenant}` to reconnect it",
        )
    run_id = store.start_run(tenant, f"act-batch:{action}")
    summary = BatchSummary(lines=len(items))
    try:
        with (
            runtime.session(tenant) as session,
            _progress(show_progress, f"{tenant} {action}", len(items)) as tick,
        ):
            summary = run_batch(session, action, items, lambda line: click.echo(to_json(line)), tick)
    except BaseException as exc:
        store.finish_run(run_id, error=f"crashed: {type(exc).__name__}")
        raise
    if summary.stopped is not None:
        store.pause_tenant(tenant, summary.stopped)
    if summary.failed:
        store.finish_run(
            run_id, error=f"{summary.failed} of {summary.lines} lines failed", summary=summary.as_json()
        )
    else:
        store.finish_run(run_id, summary=summary.as_json())
    err_console().print(summary_table(summary, f"{tenant} {action}"))
    return summary


@contextmanager
def _progress(show: bool, label: str, total: int) -> Iterator[Callable[[BatchSummary], None]]:
    """A rich progress bar over lines on stderr (a no-op when ``show`` is false)."""
    if not show:
        yield lambda _summary: None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "lines · {task.fields[created]} created · {task.fields[existed]} existed · "
            "{task.fields[failed]} failed · {task.fields[requests]} requests"
        ),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console()) as bar:
        task = bar.add_task(label, total=total, created=0, existed=0, failed=0, requests=0)

        def tick(summary: BatchSummary) -> None:
            bar.update(
                task,
                completed=summary.done + summary.failed,
                created=summary.created,
                existed=summary.existed,
                failed=summary.failed,
                requests=summary.requests,
            )

        yield tick


def summary_table(summary: BatchSummary, title: str) -> Table:
    table = Table(title=title)
    for column in ("lines", "created", "existed", "failed", "requests", "429s", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(
        str(summary.lines),
        str(summary.created),
        str(summary.existed),
        str(summary.failed),
        str(summary.requests),
        str(summary.throttled),
        f"{summary.seconds:.1f}",
    )
    return table
