"""``run TENANT TRIGGER``, ``act TENANT ACTION`` and ``serve``."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Mapping
from typing import Any

import click

from fortnox_connector.errors import ConnectorError, ReconnectRequired
from fortnox_connector.runtime.cli.app import (
    EXIT_ERROR,
    EXIT_RECONNECT,
    App,
    app_of,
    build_sink,
    err_console,
    json_option,
    out_console,
    read_json_object,
    sink_options,
    to_json,
)
from fortnox_connector.runtime.cli.batching import is_batch, run_batch_file
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import run_tenant_trigger
from fortnox_connector.runtime.report import (
    job_json,
    jobs_table,
    problems_table,
    tenant_run_json,
    trigger_progress,
)
from fortnox_connector.runtime.scheduler import Scheduler, TenantRun


@click.command("run")
@click.argument("tenant")
@click.argument("trigger")
@sink_options
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@json_option("Print the run's result as JSON.")
@click.pass_context
def run_command(
    ctx: click.Context,
    tenant: str,
    trigger: str,
    sink: str,
    sink_opts: tuple[str, ...],
    no_progress: bool,
    as_json: bool,
) -> None:
    """Run TRIGGER for TENANT now: pending events first, then new ones, delivered to the sink.

    With the stdout sink, events are JSON lines on stdout and the result goes to stderr.
    """
    app = app_of(ctx)
    runtime = app.runtime()
    runtime.store.require_tenant(tenant)
    spec = runtime.catalog.trigger(trigger)
    make = build_sink(app, sink, sink_opts)
    target = make()
    result_stream_err = sink == "stdout"
    try:
        if no_progress or as_json:
            result = run_tenant_trigger(runtime, tenant, spec, target)
        else:
            with trigger_progress(err_console(), f"{tenant} {trigger}") as progress:
                result = run_tenant_trigger(runtime, tenant, spec, target, progress=progress)
    finally:
        target.close()
    if as_json:
        click.echo(to_json(job_json(result)), err=result_stream_err)
    else:
        console = err_console() if result_stream_err else out_console()
        console.print(jobs_table([result]))
        if result.error is not None:
            console.print(f"error: {result.error}", markup=False)
    if result.paused or result.skipped:
        ctx.exit(EXIT_RECONNECT)
    if result.error is not None:
        ctx.exit(EXIT_ERROR)


@click.command("act")
@click.argument("tenant")
@click.argument("action")
@click.option(
    "--input",
    "input_",
    required=True,
    metavar="JSON|@FILE",
    help="The action's input (JSON or @file); @file.jsonl runs the action once per line (a batch).",
)
@click.option("--no-progress", is_flag=True, help="Batch: no progress bar.")
@click.pass_context
def act_command(ctx: click.Context, tenant: str, action: str, input_: str, no_progress: bool) -> None:
    """Run ACTION for TENANT with --input; prints the action's output as JSON.

    With --input @file.jsonl every line is one input: the lines run in order at the rate limit's pace,
    each result is a JSON line on stdout, a progress bar and a summary go to stderr. Run the same file
    again to resume: lines whose idempotency key completed answer from the state without a request.
    """
    app = app_of(ctx)
    batch = is_batch(input_)
    app.json = not batch  # one action prints JSON; a batch prints JSON lines and a human summary
    runtime = app.runtime()
    spec = runtime.catalog.action(action)
    if batch:
        summary = run_batch_file(runtime, tenant, spec.name, input_[1:], show_progress=not no_progress)
        if summary.stopped is not None:
            ctx.exit(EXIT_RECONNECT)
        if summary.failed:
            ctx.exit(EXIT_ERROR)
        return
    data = read_json_object(input_, "--input", tenant=tenant)
    output = run_action(runtime, tenant, spec.name, data)
    click.echo(to_json(dict(output), indent=2))


def run_action(runtime: Runtime, tenant: str, name: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Run an action in its tenant's session and record it in run history (as ``act:<name>``)."""
    store = runtime.store
    record = store.require_tenant(tenant)
    if record.paused:
        raise ReconnectRequired(
            f"the tenant is paused: {record.paused_reason}",
            tenant=tenant,
            hint=f"run `fortnox-connector connect {tenant}` to reconnect it",
        )
    run_id = store.start_run(tenant, f"act:{name}")
    try:
        with runtime.session(tenant) as session:
            output: Mapping[str, Any] = session.action(name).run(data)
    except ConnectorError as exc:
        exc.with_tenant(tenant)
        if isinstance(exc, ReconnectRequired):
            store.pause_tenant(tenant, str(exc))
        store.finish_run(run_id, error=str(exc))
        raise
    except BaseException as exc:  # a bug, or Ctrl-C: run history must not show the action as running
        store.finish_run(run_id, error=f"crashed: {type(exc).__name__}")
        raise
    store.finish_run(run_id, summary={"ok": True})
    return output


@click.command("serve")
@sink_options
@click.option("--once", is_flag=True, help="Run every tenant now (whatever its schedule), then exit.")
@click.option("--due", is_flag=True, help="Run the tenants that are due now, then exit (for cron).")
@click.option("--workers", default=8, show_default=True, help="Tenants run at the same time.")
@click.option("--trigger", "triggers", multiple=True, help="Only these triggers (default: all).")
@click.option("--web", "web_listen", default=None, metavar="HOST:PORT", help="Also serve the web app there.")
@click.option(
    "--stream", "with_stream", is_flag=True, help="Also stream payments from Fortnox's WebSocket feed."
)
@json_option("With --once/--due: print the results as JSON.")
@click.pass_context
def serve_command(
    ctx: click.Context,
    sink: str,
    sink_opts: tuple[str, ...],
    once: bool,
    due: bool,
    workers: int,
    triggers: tuple[str, ...],
    web_listen: str | None,
    with_stream: bool,
    as_json: bool,
) -> None:
    """Run every tenant's triggers on its schedule (default 23:00 Europe/Stockholm) until stopped."""
    app = app_of(ctx)
    runtime = app.runtime()
    for name in triggers:
        runtime.catalog.trigger(name)  # unknown names fail now, not at 23:00
    make = build_sink(app, sink, sink_opts)
    on_result = None if (once or due) else _live_report
    scheduler = Scheduler(
        runtime, make, triggers=list(triggers) or None, max_workers=workers, on_result=on_result
    )
    with contextlib.ExitStack() as stack:
        if web_listen is not None:
            from fortnox_connector.runtime.cli.web import parse_listen, start_web

            host, port = parse_listen(web_listen)
            stack.enter_context(start_web(app, runtime, host, port, scheduler.run_tenant))
        if with_stream and not (once or due):
            from fortnox_connector.runtime.cli.streaming import background_stream

            stack.enter_context(background_stream(runtime, make()))
        _serve(ctx, app, scheduler, once=once, due=due, to_stderr=sink == "stdout")


def _serve(
    ctx: click.Context, app: App, scheduler: Scheduler, *, once: bool, due: bool, to_stderr: bool
) -> None:
    runtime = app.runtime()
    if once or due:
        reports = scheduler.run_all() if once else scheduler.run_due()
        _final_report(app, reports, to_stderr=to_stderr)
        if any(not r.ok for r in reports):
            ctx.exit(EXIT_RECONNECT if all(r.paused for r in reports if not r.ok) else EXIT_ERROR)
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    err_console().print(f"Serving {len(runtime.store.list_tenants())} tenant(s); Ctrl-C or SIGTERM stops.")
    scheduler.serve(stop.wait)


def _live_report(report: TenantRun) -> None:
    console = err_console()
    for result in report.results:
        console.print(jobs_table([result]))
    if not report.ok:
        console.print(f"tenant {report.tenant}: {report.paused_reason or report.error}", markup=False)


def _final_report(app: App, reports: list[TenantRun], *, to_stderr: bool) -> None:
    if app.json:
        click.echo(to_json([tenant_run_json(r) for r in reports]), err=to_stderr)
        return
    console = err_console() if to_stderr else out_console()
    results = [j for r in reports for j in r.results]
    console.print(jobs_table(results, title=f"{len(reports)} tenants"))
    problems = problems_table(reports)
    if problems is not None:
        console.print(problems)


COMMANDS = (run_command, act_command, serve_command)
