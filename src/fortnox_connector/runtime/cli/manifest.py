"""``manifest``: the connector's validated declaration, as a host reads it."""

from __future__ import annotations

import click
import yaml

from fortnox_connector.declaration.loader import declaration_path, load_declaration
from fortnox_connector.runtime.cli.app import echo_json, json_option


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


COMMANDS = (manifest_command,)
