"""What every command shares: the ``App`` (settings, a lazily opened ``Runtime``), output and input helpers.

People get rich tables on the terminal; ``--json`` gives one JSON document on stdout for scripts. Errors
go to stderr (as JSON with ``--json``) and the exit code says what happened (see ``docs/runtime.md``).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import webbrowser
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
import httpx
from rich.console import Console
from rich.text import Text

from fortnox_connector.errors import ConfigError, ConnectorError
from fortnox_connector.runtime.catalog import Catalog, load_catalog, load_manager
from fortnox_connector.runtime.context import Runtime, open_store
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.runtime.sinks.base import Sink

EXIT_OK = 0
EXIT_ERROR = 1  # a connector error: the message names the tenant and the fix
EXIT_USAGE = 2  # click's usage errors
EXIT_RECONNECT = 3  # a tenant must reconnect (it was paused)
WEBHOOK_SECRET_ENV = "FORTNOX_CONNECTOR_WEBHOOK_SECRET"  # noqa: S105 - a variable name


@dataclass
class App:
    """The CLI's state for one invocation. Tests pass their own ``catalog``, ``transport`` or ``open_url``."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    home: Path | None = None
    client_id: str | None = None
    store: str | None = None  # a store URL (--store / $FORTNOX_CONNECTOR_STORE); None: SQLite in home
    api_url: str | None = None
    auth_url: str | None = None
    catalog: Catalog | None = None
    connector: str | None = None  # --connector / $CONNECTOR_NAME; None: the only one installed
    plugins: Sequence[object] = ()  # tests: plugins registered as if installed
    transport: httpx.BaseTransport | None = None
    open_url: Callable[[str], object] | None = None
    pasted_redirect: Callable[[], str] | None = None  # tests: what the user would paste
    pacers: object | None = None  # tests: the connector's own ``pacers`` extra, so tests share no window
    configure_logs: bool = True  # tests using CliRunner say False (a handler would outlive its stream)
    json: bool = False  # set by the running command's --json
    _runtime: Runtime | None = None

    def settings(self) -> RuntimeSettings:
        base = RuntimeSettings.from_env(self.env, home=self.home)
        return base.with_overrides(
            client_id=self.client_id, api_url=self.api_url, auth_url=self.auth_url, store_url=self.store
        )

    def runtime(self) -> Runtime:
        if self._runtime is None:
            settings = self.settings()
            self._runtime = Runtime(
                settings=settings,
                store=open_store(settings, self.env),
                catalog=self.catalog or load_catalog(self.connector, plugins=self.plugins),
                transport=self.transport,
                pacers=self.pacers,
            )
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    def read_redirect(self) -> str:
        """Ask for the address the browser landed on (``connect --redirect-uri``)."""
        if self.pasted_redirect is not None:
            return self.pasted_redirect()
        value: str = click.prompt("Paste the address your browser landed on", err=True)
        return value

    def browser(self, no_browser: bool) -> Callable[[str], object]:
        """How to show the authorize URL: always printed; opened in a browser unless ``no_browser``."""
        if self.open_url is not None:
            return self.open_url

        def show(url: str) -> None:
            err_console().print(f"Open this URL to connect Fortnox:\n{url}", soft_wrap=True)
            if not no_browser:
                webbrowser.open(url)

        return show


P = ParamSpec("P")
R = TypeVar("R")


def json_option(help: str = "Print JSON.") -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The ``--json`` flag (parameter ``as_json``): it also sets ``App.json`` before the command's body runs,
    so an error the command raises is reported as JSON too."""

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def with_json(*args: P.args, **kwargs: P.kwargs) -> R:
            app_of(click.get_current_context()).json = bool(kwargs.get("as_json"))
            return command(*args, **kwargs)

        option: Callable[[Callable[P, R]], Callable[P, R]] = click.option(
            "--json", "as_json", is_flag=True, help=help
        )
        return option(with_json)

    return decorate


def app_of(ctx: click.Context) -> App:
    app = ctx.find_object(App)
    if app is None:  # pragma: no cover - the group always sets it
        raise click.UsageError("internal: no App")
    return app


def out_console() -> Console:
    """A console on the current stdout (CliRunner swaps it, so never cache one)."""
    return Console(file=sys.stdout, highlight=False)


def err_console() -> Console:
    return Console(file=sys.stderr, highlight=False)


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def to_json(data: Any, *, indent: int | None = None) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False, indent=indent)


def echo_json(data: Any) -> None:
    click.echo(to_json(data))


def read_json_object(value: str, what: str, *, tenant: str | None = None) -> dict[str, Any]:
    """``value`` is a JSON object, or ``@path`` of a file holding one (``@-`` for stdin)."""
    hint = f'give {what} as a JSON object, e.g. \'{{"key": "value"}}\', or as @file.json'
    text = value
    if value.startswith("@"):
        path = value[1:]
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read {what} from {path}: {exc.strerror}", field=what, tenant=tenant, hint=hint
            ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            field=what,
            tenant=tenant,
            hint=hint,
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{what} must be a JSON object, not a {type(data).__name__}", field=what, tenant=tenant, hint=hint
        )
    return data


def parse_pairs(pairs: tuple[str, ...], what: str, *, tenant: str | None = None) -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON (numbers, true, null…) is taken as such."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"{what} {pair!r} is not key=value",
                field=what,
                tenant=tenant,
                hint=f"write {what} as key=value",
            )
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def build_sink(app: App, name: str, options: tuple[str, ...]) -> Callable[[], Sink]:
    """A factory for the chosen sink; a webhook secret can be in $FORTNOX_CONNECTOR_WEBHOOK_SECRET."""
    opts = {
        k: str(v) if k in ("url", "path", "secret") else v
        for k, v in parse_pairs(options, "--sink-option").items()
    }
    if name == "webhook" and "secret" not in opts and app.env.get(WEBHOOK_SECRET_ENV):
        opts["secret"] = app.env[WEBHOOK_SECRET_ENV]
    make = load_manager().sink(name).factory  # the runtime's or a plugin's; unknown names are listed
    make(opts).close()  # refuse bad options before anything runs

    def factory() -> Sink:
        sink: Sink = make(opts)
        return sink

    return factory


def sink_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--sink-option",
        "sink_opts",
        multiple=True,
        metavar="KEY=VALUE",
        help=f"Sink option, e.g. path=events.jsonl or url=https://… (webhook secret: ${WEBHOOK_SECRET_ENV}).",
    )(f)
    return click.option(
        "--sink",
        default="stdout",
        show_default=True,
        metavar="NAME",
        help="Where events go: stdout, file, webhook, or a sink a plugin registers.",
    )(f)


def report_error(app: App, exc: ConnectorError) -> None:
    """An error on stderr: a line for people, a JSON object with ``--json``."""
    if app.json:
        click.echo(
            to_json(
                {"error": exc.message, "type": type(exc).__name__, "tenant": exc.tenant, "hint": exc.hint}
            ),
            err=True,
        )
    else:
        err_console().print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
