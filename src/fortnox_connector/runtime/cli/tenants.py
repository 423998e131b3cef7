"""``tenants add|list|show|set|remove``: the tenants this runtime serves, their config and state."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from rich.table import Table

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.cli.app import (
    app_of,
    echo_json,
    json_option,
    out_console,
    parse_pairs,
    read_json_object,
)
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.store.base import AuthMode, TenantRecord


def tenant_summary(runtime: Runtime, record: TenantRecord) -> dict[str, Any]:
    """A tenant as shown by ``list`` (no secrets: a token's expiry and scope, never its value)."""
    token = runtime.store.load_token(record.id)
    connected = token is not None or (
        record.auth_mode == "client_credentials" and bool(record.fortnox_tenant_id)
    )
    try:
        schedule, timezone = runtime.schedule(record.id)
    except ConfigError:
        schedule, timezone = "(invalid config)", "UTC"
    runs = runtime.store.list_runs(record.id, limit=1)
    return {
        "id": record.id,
        "name": record.display_name,
        "auth_mode": record.auth_mode,
        "fortnox_tenant_id": record.fortnox_tenant_id,
        "connected": connected,
        "paused": record.paused,
        "paused_reason": record.paused_reason,
        "must_reconnect": record.paused or not connected,
        "fix": reconnect_fix(record) if record.paused or not connected else None,
        "schedule": schedule,
        "timezone": timezone,
        "last_run": runs[0].started_at if runs else None,
    }


def reconnect_fix(record: TenantRecord) -> str:
    """The commands that give a tenant a connection again; cursors and outbox are kept."""
    if record.auth_mode == "client_credentials":
        return f"run `fortnox-connector tenants reconnect {record.id}` (cursors are kept)"
    return (
        f"run `fortnox-connector tenants reconnect {record.id}` (the customer approves again), or "
        f"`fortnox-connector tenants reconnect {record.id} --adopt-refresh-token` with a new refresh token "
        "in $FORTNOX_OAUTH_REFRESH_TOKEN; cursors are kept"
    )


def _local(when: datetime, timezone: str, *, seconds: bool = False) -> str:
    """``when`` for people: in the tenant's time zone (the one its schedule is read in), zone named."""
    try:
        zone: tzinfo = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "") + " %Z")


def _config_from(
    tenant: str, config: str | None, sets: tuple[str, ...], base: dict[str, Any] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = dict(base or {})
    if config is not None:
        data.update(read_json_object(config, "--config", tenant=tenant))
    data.update(parse_pairs(sets, "--set", tenant=tenant))
    return data


@click.group("tenants")
def tenants() -> None:
    """Add, list, show, configure and remove tenants."""


@tenants.command("add")
@click.argument("tenant")
@click.option("--name", help="Display name (default: the id).")
@click.option(
    "--service-account", is_flag=True, help="Authenticate with client credentials (service account)."
)
@click.option("--fortnox-tenant-id", help="The company's Fortnox DatabaseNumber (service accounts).")
@click.option("--config", "config", metavar="JSON|@FILE", help="Tenant config as a JSON object.")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="One config setting, e.g. schedule='0 6 * * *'."
)
@json_option()
@click.pass_context
def add(
    ctx: click.Context,
    tenant: str,
    name: str | None,
    service_account: bool,
    fortnox_tenant_id: str | None,
    config: str | None,
    sets: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add TENANT (then run `connect TENANT`)."""
    app = app_of(ctx)
    runtime = app.runtime()
    data = _config_from(tenant, config, sets)
    runtime.read_config(data, tenant)  # validate before anything is stored
    mode: AuthMode = "client_credentials" if service_account else "authorization_code"
    record = runtime.store.add_tenant(
        tenant, display_name=name or tenant, auth_mode=mode, fortnox_tenant_id=fortnox_tenant_id
    )
    if data:
        runtime.store.save_config(tenant, data)
    if as_json:
        echo_json(tenant_summary(runtime, record))
    else:
        out_console().print(f"Added tenant {tenant} ({mode}). Next: fortnox-connector connect {tenant}")


@tenants.command("set")
@click.argument("tenant")
@click.option("--config", "config", metavar="JSON|@FILE", help="Settings to merge, as a JSON object.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="One config setting.")
@click.option("--unset", multiple=True, metavar="KEY", help="Back to the default for KEY.")
@click.option("--name", help="A new display name.")
@json_option()
@click.pass_context
def set_config(
    ctx: click.Context,
    tenant: str,
    config: str | None,
    sets: tuple[str, ...],
    unset: tuple[str, ...],
    name: str | None,
    as_json: bool,
) -> None:
    """Change TENANT's config (validated before it is stored)."""
    app = app_of(ctx)
    runtime = app.runtime()
    runtime.store.require_tenant(tenant)
    data = _config_from(tenant, config, sets, runtime.store.load_config(tenant))
    for key in unset:
        data.pop(key, None)
    effective = runtime.read_config(data, tenant)
    runtime.store.save_config(tenant, data)
    if name:
        runtime.store.update_tenant(tenant, display_name=name)
    if as_json:
        echo_json(effective)
    else:
        out_console().print(f"Saved the config of {tenant}.")


@tenants.command("list")
@json_option()
@click.pass_context
def list_tenants(ctx: click.Context, as_json: bool) -> None:
    """List tenants: auth mode, connection, pause, schedule, last run."""
    app = app_of(ctx)
    runtime = app.runtime()
    rows = [tenant_summary(runtime, r) for r in runtime.store.list_tenants()]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        out_console().print("No tenants yet: fortnox-connector tenants add ID")
        return
    table = Table("tenant", "name", "auth", "connected", "state", "schedule", "last run")
    for r in rows:
        state = "[red]must reconnect[/]" if r["must_reconnect"] else "[green]active[/]"
        last = _local(r["last_run"], r["timezone"]) if r["last_run"] else "-"
        table.add_row(
            r["id"], r["name"], r["auth_mode"], "yes" if r["connected"] else "no", state, r["schedule"], last
        )
    out_console().print(table)


@tenants.command("show")
@click.argument("tenant")
@json_option()
@click.pass_context
def show(ctx: click.Context, tenant: str, as_json: bool) -> None:
    """Show TENANT: config, token expiry and scope (never the token), cursors, pending events, runs."""
    app = app_of(ctx)
    runtime = app.runtime()
    record = runtime.store.require_tenant(tenant)
    token = runtime.store.load_token(tenant)
    triggers = runtime.catalog.trigger_names()
    info: dict[str, Any] = {
        **tenant_summary(runtime, record),
        "config": runtime.config(tenant),
        "token": {"expires_at": token.expires_at, "scope": sorted(token.scope)} if token else None,
        "triggers": {
            t: {
                "cursor": runtime.store.load_cursor(tenant, t),
                "pending_events": len(runtime.store.pending(tenant, t)),
            }
            for t in triggers
        },
        "runs": [
            {
                "trigger": r.trigger,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "summary": r.summary,
                "error": r.error,
            }
            for r in runtime.store.list_runs(tenant, limit=10)
        ],
    }
    if as_json:
        echo_json(info)
        return
    console = out_console()
    head = Table(show_header=False, title=f"tenant {tenant}")
    for key in ("name", "auth_mode", "fortnox_tenant_id", "connected", "paused_reason"):
        head.add_row(key, str(info[key]))
    if info["fix"]:
        head.add_row("must reconnect", info["fix"])
    if token is not None:
        head.add_row("token expires", _local(token.expires_at, info["timezone"], seconds=True))
        head.add_row("token scope", " ".join(sorted(token.scope)))
    console.print(head)
    config = Table("setting", "value", title="config")
    for key, value in info["config"].items():
        config.add_row(key, str(value))
    console.print(config)
    state = Table("trigger", "cursor", "pending events", title="triggers")
    for name, t in info["triggers"].items():
        state.add_row(name, str(t["cursor"]), str(t["pending_events"]))
    console.print(state)
    runs = Table("trigger", "started", "events", "error", title="recent runs")
    for r in info["runs"]:
        events = str((r["summary"] or {}).get("delivered", "-"))
        started = _local(r["started_at"], info["timezone"], seconds=True)
        runs.add_row(r["trigger"], started, events, r["error"] or "")
    console.print(runs)


@tenants.command("remove")
@click.argument("tenant")
@click.option("--yes", is_flag=True, help="Do not ask.")
@json_option()
@click.pass_context
def remove(ctx: click.Context, tenant: str, yes: bool, as_json: bool) -> None:
    """Forget TENANT and everything kept for it (its consent in Fortnox stays until revoked there)."""
    app = app_of(ctx)
    runtime = app.runtime()
    runtime.store.require_tenant(tenant)
    if not yes:
        click.confirm(f"Remove tenant {tenant} with its tokens, cursors and pending events?", abort=True)
    runtime.store.remove_tenant(tenant)
    if as_json:
        echo_json({"removed": tenant})
    else:
        out_console().print(f"Removed tenant {tenant}.")


@tenants.command("reconnect")
@click.argument("tenant")
@click.option(
    "--adopt-refresh-token",
    "adopt",
    is_flag=True,
    help="Use the refresh token in $FORTNOX_OAUTH_REFRESH_TOKEN instead of the browser.",
)
@click.option("--port", default=0, show_default=True, help="Loopback port for the redirect (0: any free).")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the browser.")
@click.option("--no-browser", is_flag=True, help="Only print the URL.")
@json_option()
@click.pass_context
def reconnect(
    ctx: click.Context, tenant: str, adopt: bool, port: int, timeout: float, no_browser: bool, as_json: bool
) -> None:
    """Give an existing TENANT a new connection (it must exist); its cursors, outbox and history stay.

    The same as `connect TENANT` for a known tenant, in its auth mode: a tenant that lost its token (paused,
    "must reconnect") runs again from where it stopped; `tenants remove` is never needed for that.
    """
    from fortnox_connector.runtime.cli.connecting import connect_command  # the command it delegates to

    record = app_of(ctx).runtime().store.require_tenant(tenant)
    ctx.invoke(
        connect_command,
        tenant=tenant,
        service_account=record.auth_mode == "client_credentials",
        fortnox_tenant_id=record.fortnox_tenant_id if record.auth_mode == "client_credentials" else None,
        name=None,
        port=port,
        timeout=timeout,
        no_browser=no_browser,
        redirect_uri=None,
        adopt=adopt,
        as_json=as_json,
    )


COMMANDS = (tenants,)
