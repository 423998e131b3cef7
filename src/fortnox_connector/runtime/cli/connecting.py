"""``connect TENANT`` (browser consent on a loopback listener, or a service account) and ``check TENANT``."""

from __future__ import annotations

import click
from rich.table import Table

from fortnox_connector.runtime.check import check_tenant
from fortnox_connector.runtime.cli.app import EXIT_ERROR, app_of, echo_json, json_option, out_console
from fortnox_connector.runtime.connect import (
    REFRESH_TOKEN_ENV,
    Connected,
    adopt_connection,
    connect,
    connect_service_account,
)
from fortnox_connector.secrets import Secret


@click.command("connect")
@click.argument("tenant")
@click.option("--service-account", is_flag=True, help="Connect a service account (client credentials).")
@click.option(
    "--fortnox-tenant-id",
    help="With --service-account: the company's DatabaseNumber, when its administrator already consented.",
)
@click.option("--name", help="Display name if the tenant is new.")
@click.option(
    "--port", default=0, show_default=True, help="Loopback port for the redirect (0: any free port)."
)
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the browser.")
@click.option("--no-browser", is_flag=True, help="Only print the URL.")
@click.option(
    "--redirect-uri",
    help="The app's registered redirect URI when it is not a loopback one: paste where the browser landed.",
)
@click.option(
    "--adopt-refresh-token",
    "adopt",
    is_flag=True,
    help=f"Take over a connection made elsewhere from the refresh token in ${REFRESH_TOKEN_ENV} (used once).",
)
@json_option()
@click.pass_context
def connect_command(
    ctx: click.Context,
    tenant: str,
    service_account: bool,
    fortnox_tenant_id: str | None,
    name: str | None,
    port: int,
    timeout: float,
    no_browser: bool,
    redirect_uri: str | None,
    adopt: bool,
    as_json: bool,
) -> None:
    """Connect TENANT to Fortnox: approve in the browser; the redirect comes back to this machine."""
    app = app_of(ctx)
    runtime = app.runtime()
    result: Connected
    note = ""
    extra: dict[str, bool] = {}
    if adopt:
        result, adoption = adopt_connection(
            runtime, tenant, Secret(app.env.get(REFRESH_TOKEN_ENV, "")), display_name=name
        )
        if adoption.replaced_dead:
            note = f" (the stored connection was dead: replaced by {REFRESH_TOKEN_ENV}; cursors kept)"
        elif not adoption.seed_used:
            note = f" (already connected: kept the stored token, {REFRESH_TOKEN_ENV} not used)"
        extra["seed_used"] = adoption.seed_used
        extra["replaced_dead_token"] = adoption.replaced_dead
    elif service_account and fortnox_tenant_id:
        result = connect_service_account(runtime, tenant, fortnox_tenant_id)
    else:
        result = connect(
            runtime,
            tenant,
            open_url=app.browser(no_browser),
            service_account=service_account,
            timeout=timeout,
            port=port,
            display_name=name,
            redirect_uri=redirect_uri,
            read_redirect=app.read_redirect,
        )
    if as_json:
        echo_json(
            {
                "tenant": result.tenant,
                "auth_mode": result.auth_mode,
                "fortnox_tenant_id": result.fortnox_tenant_id,
                "company": result.company,
                "scope": sorted(result.scope),
                **extra,
            }
        )
    else:
        out_console().print(
            f"Connected {result.tenant} to {result.company} (Fortnox {result.fortnox_tenant_id}), "
            f"scopes: {' '.join(sorted(result.scope))}{note}"
        )


@click.command("check")
@click.argument("tenant")
@json_option()
@click.pass_context
def check_command(ctx: click.Context, tenant: str, as_json: bool) -> None:
    """Check TENANT: auth, each scope and licence, the company, the clock. Exit 1 if any fails."""
    app = app_of(ctx)
    items = check_tenant(app.runtime(), tenant)
    if as_json:
        echo_json([{"check": i.name, "ok": i.ok, "detail": i.detail, "hint": i.hint} for i in items])
    else:
        table = Table("check", "", "detail", "fix", title=f"tenant {tenant}")
        for i in items:
            table.add_row(i.name, "[green]ok[/]" if i.ok else "[red]FAIL[/]", i.detail, i.hint or "")
        out_console().print(table)
    if not all(i.ok for i in items):
        ctx.exit(EXIT_ERROR)


COMMANDS = (connect_command, check_command)
