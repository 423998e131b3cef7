"""``web``: the operator's web app in the foreground; ``serve --web`` mounts it beside the scheduler."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.cli.app import App, app_of, build_sink, err_console, sink_options
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.scheduler import Scheduler
from fortnox_connector.runtime.store import load_or_create_key

if TYPE_CHECKING:
    from fortnox_connector.runtime.web.server import WebServer


def _require_web_extra() -> None:
    """The web app's libraries come with the ``web`` extra; without it, say what to install."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError(
            "the web app needs the 'web' extra, which is not installed",
            hint="pip install 'fortnox-connector[web]'",
        ) from None


def start_web(
    app: App, runtime: Runtime, host: str, port: int, run_now: Callable[[str], object]
) -> WebServer:
    """Bind ``host:port`` and serve the web app there in a background thread; prints where it is."""
    _require_web_extra()
    from fortnox_connector.runtime.web import WebSettings, create_app
    from fortnox_connector.runtime.web.server import WebServer

    key = load_or_create_key(runtime.settings.key_path, env=app.env)
    server = WebServer(host, port)
    settings = WebSettings.from_env(listen_url=server.url, store_key=key, env=app.env)
    server.start(create_app(runtime, settings, run_now=run_now))
    closed = "" if settings.operator_token else " (operator pages closed: set FORTNOX_CONNECTOR_WEB_TOKEN)"
    err_console().print(f"Web app on {server.url}{closed}; connect links go to {settings.public_url}.")
    return server


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``PORT`` (then 127.0.0.1): the web app listens on loopback unless told otherwise."""
    host, _, port = value.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HOST:PORT or PORT") from None
    if not 0 <= number <= 65535:
        raise click.BadParameter(f"port {number} is out of range")
    return (host.strip("[]") or "127.0.0.1"), number


@click.command("web")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT")
@click.option("--demo", is_flag=True, help="Against a local sandbox with demo tenants (temporary state).")
@sink_options
@click.pass_context
def web_command(ctx: click.Context, listen: str, demo: bool, sink: str, sink_opts: tuple[str, ...]) -> None:
    """The operator's web app: connect links for customers, tenant pages, /metrics, /healthz, /readyz.

    Its "run now" button delivers to the sink given here (as `serve` does)."""
    host, port = parse_listen(listen)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if demo:
        _require_web_extra()
        from fortnox_connector.runtime.web.demo import run_web_demo

        run_web_demo(err_console(), host, port, stop.wait)
        return
    app = app_of(ctx)
    runtime = app.runtime()
    scheduler = Scheduler(runtime, build_sink(app, sink, sink_opts))
    with start_web(app, runtime, host, port, scheduler.run_tenant):
        stop.wait()


COMMANDS = (web_command,)
