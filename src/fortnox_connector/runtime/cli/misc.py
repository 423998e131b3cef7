"""``demo``, ``sandbox``, ``manifest`` and ``pandium``."""

from __future__ import annotations

import sys

import click
import yaml

from fortnox_connector.declaration.loader import declaration_path, load_declaration
from fortnox_connector.runtime.cli.app import app_of, echo_json, json_option, out_console


@click.command("demo")
@json_option("Print the summary as JSON.")
def demo_command(as_json: bool) -> None:
    """See it work, with no configuration: a local Fortnox sandbox, a tenant, both triggers, a payment."""
    from fortnox_connector.runtime.demo import run_demo

    summary = run_demo(out_console(), quiet=as_json)
    if as_json:
        echo_json(summary)


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True)
@click.option("--seed", default=1, show_default=True, help="Same seed, same data.")
@click.option("--tenants", default=3, show_default=True)
@click.option("--no-rate-limit", is_flag=True, help="Turn off Fortnox's 25 requests / 5 s limit.")
@click.option("--client-id", default=None, help="The app's client id (default: sandbox-client).")
@click.option(
    "--client-secret",
    default=None,
    envvar="FORTNOX_SANDBOX_CLIENT_SECRET",
    help="The app's client secret (default: sandbox-secret; or $FORTNOX_SANDBOX_CLIENT_SECRET).",
)
@click.option("--token-ttl", type=click.IntRange(min=1), default=None, help="Access-token life in seconds.")
def sandbox_command(
    host: str,
    port: int,
    seed: int,
    tenants: int,
    no_rate_limit: bool,
    client_id: str | None,
    client_secret: str | None,
    token_ttl: int | None,
) -> None:
    """Serve a local Fortnox emulator (OAuth, invoices, payments, rate limit) until Ctrl-C."""
    from fortnox_connector.sandbox import run_sandbox

    def out(line: str) -> None:
        click.echo(line)
        prefix = "Fortnox sandbox listening on "
        if line.startswith(prefix):
            url = line[len(prefix) :].strip()
            click.echo("  to use it from another shell:")
            click.echo(f"    export FORTNOX_API_URL={url} FORTNOX_AUTH_URL={url}")
            click.echo(
                f"    export FORTNOX_CLIENT_ID={client_id or 'sandbox-client'} "
                f"FORTNOX_CLIENT_SECRET={'<your --client-secret>' if client_secret else 'sandbox-secret'}"
            )

    run_sandbox(
        host=host,
        port=port,
        seed=seed,
        tenants=tenants,
        rate_limit=not no_rate_limit,
        out=out,
        client_id=client_id,
        client_secret=client_secret,
        token_ttl=token_ttl,
    )


@click.command("manifest")
@json_option("Print JSON instead of YAML.")
def manifest_command(as_json: bool) -> None:
    """Print the declaration (connector.yaml, validated): auth, scopes, secrets, config, triggers, actions."""
    load_declaration()  # refuses an invalid declaration with the field and the fix
    text = declaration_path().read_text(encoding="utf-8")
    if as_json:
        echo_json(yaml.safe_load(text))
    else:
        click.echo(text, nl=not text.endswith("\n"))


@click.command("pandium", context_settings={"ignore_unknown_options": True})
@click.pass_context
def pandium_command(ctx: click.Context) -> None:
    """Run as Pandium runs integrations: PAN_* environment in, one JSON document out (docs/pandium.md).

    Logs go to stderr only; stdout carries exactly the one JSON document Pandium stores."""
    from fortnox_connector.runtime.pandium import main as pandium_main

    ctx.exit(pandium_main(app_of(ctx).env, sys.stdout, sys.stderr))


COMMANDS = (demo_command, sandbox_command, manifest_command, pandium_command)
