"""``manifest``: the connector's validated declaration, as a host reads it."""

from __future__ import annotations

import click
import yaml

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.catalog import load_catalog
from fortnox_connector.runtime.cli.app import app_of, echo_json, json_option


@click.command("manifest")
@json_option("Print JSON instead of YAML.")
@click.pass_context
def manifest_command(ctx: click.Context, as_json: bool) -> None:
    """Print the declaration (connector.yaml, validated): auth, scopes, secrets, config, triggers, actions."""
    app = app_of(ctx)
    connector = (app.catalog or load_catalog(app.connector, plugins=app.plugins)).connector
    if connector.manifest is None:
        raise ConfigError(
            f"the connector {connector.name!r} publishes no manifest",
            hint="ask its maintainers, or read its documentation for the declaration",
        )
    text = connector.manifest()
    if as_json:
        echo_json(yaml.safe_load(text))
    else:
        click.echo(text, nl=not text.endswith("\n"))


COMMANDS = (manifest_command,)
