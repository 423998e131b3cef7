"""``demo`` and ``sandbox``: the connector against a local Fortnox emulator, nothing beyond loopback.

The sandbox is a development tool: production code never imports it. These commands import it on use,
and without its dependencies (the ``[sandbox]`` extra) they say which extra to install.
"""

from __future__ import annotations

import importlib

import click

from fortnox_connector.runtime.cli.app import echo_json, json_option, out_console

SANDBOX_EXTRA = "pip install 'fortnox-connector[sandbox]'"


def require_sandbox() -> None:
    """Import the sandbox, or stop with the extra to install (exit code 2)."""
    try:
        importlib.import_module("fortnox_connector.sandbox")
    except ImportError as exc:
        raise click.UsageError(
            f"the local Fortnox sandbox needs the sandbox extra ({exc.name} is missing). Fix: {SANDBOX_EXTRA}"
        ) from None


@click.command("demo")
@json_option("Print the summary as JSON.")
def demo_command(as_json: bool) -> None:
    """See it work, with no configuration: a local Fortnox sandbox, a tenant, both triggers, a payment."""
    require_sandbox()
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
    require_sandbox()
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


COMMANDS = (demo_command, sandbox_command)
