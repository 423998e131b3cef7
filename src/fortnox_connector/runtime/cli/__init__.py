"""The ``fortnox-connector`` command line: demo, sandbox, tenants, connect, check, run, act, serve, manifest.

``main(argv)`` returns the exit code: 0 done, 1 a connector error (named tenant and fix on stderr), 2 a
usage error, 3 a tenant must reconnect. Commands live in the sibling modules, one job each.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from fortnox_connector import __version__
from fortnox_connector.errors import ConnectorError
from fortnox_connector.runtime.cli.app import EXIT_ERROR, App, app_of, report_error
from fortnox_connector.runtime.logs import configure_logging
from fortnox_connector.runtime.store.sqlite import store_error


class _Cli(click.Group):
    """Turns a ``ConnectorError`` from any command into a message on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConnectorError as exc:
            report_error(app_of(ctx), exc)
            raise click.exceptions.Exit(EXIT_ERROR) from None
        except sqlite3.Error as exc:  # the state database failed mid-command (disk full, damaged, locked)
            path = app_of(ctx).settings().db_path
            report_error(app_of(ctx), store_error(path, exc))
            raise click.exceptions.Exit(EXIT_ERROR) from None


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fortnox-connector")
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="FORTNOX_CONNECTOR_HOME",
    help="State directory (default .fortnox-connector).",
)
@click.option(
    "--client-id", envvar="FORTNOX_CLIENT_ID", help="Fortnox app client id (secret: $FORTNOX_CLIENT_SECRET)."
)
@click.option(
    "--store",
    envvar="FORTNOX_CONNECTOR_STORE",
    help="State store URL: postgresql://USER@HOST:PORT/DB (the [postgres] extra); default SQLite in --home.",
)
@click.option(
    "--connector",
    envvar="CONNECTOR_NAME",
    help="The installed connector to run (default: the only one installed).",
)
@click.option("--api-url", envvar="FORTNOX_API_URL", help="Fortnox API base URL (a sandbox's, in tests).")
@click.option("--auth-url", envvar="FORTNOX_AUTH_URL", help="Fortnox OAuth base URL.")
@click.option(
    "--log-level",
    default="WARNING",
    envvar=["FORTNOX_CONNECTOR_LOG_LEVEL", "FORTNOX_LOG_LEVEL"],  # one name across CLI and Pandium; older one
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option("--log-json", is_flag=True, envvar="FORTNOX_CONNECTOR_LOG_JSON", help="Logs as JSON lines.")
@click.pass_context
def cli(
    ctx: click.Context,
    home: Path | None,
    client_id: str | None,
    store: str | None,
    connector: str | None,
    api_url: str | None,
    auth_url: str | None,
    log_level: str,
    log_json: bool,
) -> None:
    """Move Fortnox payments and invoices to your systems: run `fortnox-connector demo` to see it work."""
    app = ctx.ensure_object(App)
    app.home = home or app.home
    app.client_id = client_id or app.client_id
    app.store = store or app.store
    app.connector = connector or app.connector
    app.api_url = api_url or app.api_url
    app.auth_url = auth_url or app.auth_url
    if app.configure_logs and ctx.invoked_subcommand != "pandium":  # Pandium mode sets up its own
        configure_logging(json=log_json, level=log_level.upper(), stream=sys.stderr)
    ctx.call_on_close(app.close)


def _register() -> None:
    from fortnox_connector.runtime.cli import (
        connecting,
        local,
        manifest,
        pandium,
        running,
        streaming,
        temporal,
        tenants,
        web,
    )

    for module in (tenants, connecting, running, streaming, local, manifest, pandium, web, temporal):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: Sequence[str] | None = None, *, app: App | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else sys.argv[1:],
            prog_name="fortnox-connector",
            standalone_mode=False,
            obj=app or App(),
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return code if isinstance(code, int) else 0  # click returns a ctx.exit() code in this mode


__all__ = ["App", "cli", "main"]
