"""``demo``, ``sandbox``, ``manifest`` and ``pandium``."""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from typing import Any

import click
import yaml

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.catalog import Catalog, load_catalog
from fortnox_connector.runtime.cli.app import app_of, echo_json, out_console, to_json


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def demo_command(ctx: click.Context, as_json: bool) -> None:
    """See it work, with no configuration: a local Fortnox sandbox, a tenant, both triggers, a payment."""
    from fortnox_connector.runtime.demo import run_demo

    app = app_of(ctx)
    app.json = as_json
    summary = run_demo(out_console(), quiet=as_json)
    if as_json:
        echo_json(summary)


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True)
@click.option("--seed", default=1, show_default=True, help="Same seed, same data.")
@click.option("--tenants", default=3, show_default=True)
@click.option("--no-rate-limit", is_flag=True, help="Turn off Fortnox's 25 requests / 5 s limit.")
def sandbox_command(host: str, port: int, seed: int, tenants: int, no_rate_limit: bool) -> None:
    """Serve a local Fortnox emulator (OAuth, invoices, payments, rate limit) until Ctrl-C."""
    from fortnox_connector.sandbox import run_sandbox

    def out(line: str) -> None:
        click.echo(line)
        prefix = "Fortnox sandbox listening on "
        if line.startswith(prefix):
            url = line[len(prefix) :].strip()
            click.echo("  to use it from another shell:")
            click.echo(f"    export FORTNOX_API_URL={url} FORTNOX_AUTH_URL={url}")
            click.echo("    export FORTNOX_CLIENT_ID=sandbox-client FORTNOX_CLIENT_SECRET=sandbox-secret")

    run_sandbox(host=host, port=port, seed=seed, tenants=tenants, rate_limit=not no_rate_limit, out=out)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "poll"}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [_plain(v) for v in value]
    if callable(value):
        return None
    return value


def manifest_data(catalog: Catalog) -> dict[str, Any]:
    """The declaration (``declaration.load_declaration``) when installed, else the catalog's view."""
    try:
        declaration: Any = importlib.import_module("fortnox_connector.declaration")
        loaded = declaration.load_declaration()
        plain = _plain(loaded)
        return plain if isinstance(plain, dict) else {"declaration": plain}
    except (ImportError, AttributeError):
        pass
    triggers = []
    for name in catalog.trigger_names():
        try:
            spec = catalog.trigger(name)
        except ConfigError:
            continue
        triggers.append(
            {"name": spec.name, "description": spec.description, "event_schema": spec.event_schema}
        )
    actions = []
    for name in catalog.action_names():
        a = catalog.action(name)
        actions.append(
            {
                "name": a.name,
                "description": a.description,
                "input_schema": a.input_schema,
                "output_schema": a.output_schema,
            }
        )
    return {"connector": "fortnox", "triggers": triggers, "actions": actions}


@click.command("manifest")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@click.pass_context
def manifest_command(ctx: click.Context, as_json: bool) -> None:
    """Print the connector's declaration: auth, scopes, config, triggers, actions, schedule."""
    app = app_of(ctx)
    app.json = as_json
    data = manifest_data(app.catalog or load_catalog())
    if as_json:
        echo_json(data)
    else:
        click.echo(yaml.safe_dump(_yaml_safe(data), sort_keys=False, allow_unicode=True), nl=False)


def _yaml_safe(data: Any) -> Any:
    import json

    return json.loads(to_json(data))


@click.command("pandium", context_settings={"ignore_unknown_options": True})
@click.pass_context
def pandium_command(ctx: click.Context) -> None:
    """Run as Pandium runs integrations: PAN_* environment in, one JSON document out (docs/pandium.md)."""
    try:
        pandium: Any = importlib.import_module("fortnox_connector.runtime.pandium")
    except ImportError:
        raise ConfigError(
            "the Pandium mode is not part of this installation",
            hint="install a release of fortnox-connector that includes it",
        ) from None
    code = int(pandium.main(os.environ, sys.stdout, sys.stderr))
    ctx.exit(code)


COMMANDS = (demo_command, sandbox_command, manifest_command, pandium_command)
