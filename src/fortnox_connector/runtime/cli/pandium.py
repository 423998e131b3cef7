"""``pandium``: one run as Pandium starts an integration (docs/pandium.md)."""

from __future__ import annotations

import sys

import click

from fortnox_connector.runtime.cli.app import app_of


@click.command("pandium", context_settings={"ignore_unknown_options": True})
@click.pass_context
def pandium_command(ctx: click.Context) -> None:
    """Run as Pandium runs integrations: PAN_* environment in, one JSON document out (docs/pandium.md).

    Logs go to stderr only; stdout carries exactly the one JSON document Pandium stores."""
    from fortnox_connector.runtime.pandium import main as pandium_main

    ctx.exit(pandium_main(app_of(ctx).env, sys.stdout, sys.stderr))


COMMANDS = (pandium_command,)
