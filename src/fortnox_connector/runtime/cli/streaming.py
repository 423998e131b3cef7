"""``stream``: every tenant's payments within a second, from Fortnox's WebSocket feed (docs/stream.md)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click

from fortnox_connector.contract.stream import StreamSpec
from fortnox_connector.runtime.cli.app import app_of, build_sink, err_console, sink_options
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.sinks.base import Sink
from fortnox_connector.runtime.streaming import DEFAULT_STREAM, StreamHost, stream_spec


@click.command("stream")
@sink_options
@click.option("--stream", "name", default=DEFAULT_STREAM, show_default=True, help="Which stream to run.")
@click.option("--status-every", default=30.0, show_default=True, help="Seconds between summary lines.")
@click.pass_context
def stream_command(
    ctx: click.Context, sink: str, sink_opts: tuple[str, ...], name: str, status_every: float
) -> None:
    """Stream every tenant's booked and deleted payments (and paid invoices) until stopped.

    One connection for all tenants; the feed's place is committed after each delivery, so a restart
    resumes where delivery got. Keep `serve` running too: the scheduled poll is the safety net.
    $FORTNOX_FEED_URL overrides the feed's address (the sandbox's). Ctrl-C or SIGTERM stops.
    """
    app = app_of(ctx)
    runtime = app.runtime()
    runtime.settings.require_client()
    spec = stream_spec(runtime, name)
    run_stream(runtime, spec, build_sink(app, sink, sink_opts)(), status_every)


@contextmanager
def background_stream(runtime: Runtime, sink: Sink, status_every: float = 30.0) -> Iterator[StreamHost]:
    """``serve --stream``: the stream on its own thread and event loop for the ``with`` block."""
    console = err_console()
    host = StreamHost(
        runtime,
        stream_spec(runtime),
        sink,
        status=lambda line: console.print(line, markup=False, highlight=False),
        status_every_s=status_every,
    )
    loop = asyncio.new_event_loop()

    def main() -> None:
        try:
            loop.run_until_complete(host.run())
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="stream", daemon=True)
    thread.start()
    try:
        yield host
    finally:
        with contextlib.suppress(RuntimeError):  # the loop already ended (the stream stopped itself)
            loop.call_soon_threadsafe(host.stop)
        thread.join(timeout=30)
        sink.close()


def run_stream(runtime: Runtime, spec: StreamSpec, sink: Sink, status_every: float) -> None:
    """Run the stream on an event loop in this thread; SIGINT/SIGTERM stop it after the item in hand."""
    console = err_console()

    def status(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    host = StreamHost(runtime, spec, sink, status=status, status_every_s=status_every)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, host.stop)
        await host.run()

    try:
        asyncio.run(main())
    finally:
        sink.close()


COMMANDS = (stream_command,)
