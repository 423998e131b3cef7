"""PANDIUM.yaml: parses, runs the Pandium mode, and its forms and metadata schema match what the code does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.runtime.pandium.config import tenant_config
from fortnox_connector.runtime.pandium.options import FIELDS as PANDIUM_ONLY
from fortnox_connector.runtime.pandium.options import PandiumOptions, split_options
from fortnox_connector.sandbox import Sandbox
from tests.pandium.helpers import FakeSource, pandium_env, run_pandium, specs

ROOT = Path(__file__).resolve().parents[2]
NOT_ON_PANDIUM = {"schedule", "timezone"}  # Pandium schedules the runs itself

Token = Callable[..., str]


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "PANDIUM.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def test_it_builds_the_package_and_runs_the_pandium_mode(manifest: dict[str, Any]) -> None:
    assert {"version", "base", "build", "run", "configs"} <= manifest.keys()
    assert str(manifest["base"]).startswith("python:3.")
    assert "pip install" in manifest["build"]
    assert manifest["build"].split()[-1] == "."
    assert manifest["run"] == "fortnox-connector pandium"


def test_the_config_schema_is_valid_and_every_field_is_in_the_form(manifest: dict[str, Any]) -> None:
    schema = manifest["configs"]["schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    scopes = [
        element["scope"]
        for section in manifest["configs"]["uischema"]["elements"]
        for element in section.get("elements", [])
    ]
    assert sorted(scopes) == sorted(f"#/properties/{name}" for name in schema["properties"])


def test_every_setting_is_a_tenant_config_field(manifest: dict[str, Any]) -> None:
    fields = set(TenantConfig.__dataclass_fields__)
    assert set(manifest["configs"]["schema"]["properties"]) == (fields - NOT_ON_PANDIUM) | set(PANDIUM_ONLY)


def test_the_defaults_as_pandium_strings_give_the_default_config(manifest: dict[str, Any]) -> None:
    raw = {
        name: json.dumps(prop["default"]) if isinstance(prop["default"], bool) else str(prop["default"])
        for name, prop in manifest["configs"]["schema"]["properties"].items()
        if "default" in prop
    }
    options, rest = split_options(raw, tenant="t")
    assert options == PandiumOptions()
    assert tenant_config(rest, tenant="t") == TenantConfig()


def _plain_type(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        kinds = [p.get("type", "string") for p in prop["anyOf"]]
    else:
        kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    return str(next(k for k in kinds if k != "null"))


def test_the_config_schema_matches_schemas_config_json(manifest: dict[str, Any]) -> None:
    path = ROOT / "schemas" / "config.json"
    if not path.exists():
        pytest.skip("schemas/config.json is not on this branch yet")
    declared = json.loads(path.read_text(encoding="utf-8"))["properties"]
    ours = {k: v for k, v in manifest["configs"]["schema"]["properties"].items() if k not in PANDIUM_ONLY}
    assert set(ours) == set(declared) - NOT_ON_PANDIUM
    for name, prop in ours.items():
        theirs = declared[name]
        assert prop["type"] == _plain_type(theirs), name
        for key in ("minimum", "maximum"):
            assert prop.get(key) == theirs.get(key), (name, key)
        if theirs.get("default") is not None:
            assert prop.get("default") == theirs["default"], name


def test_an_init_run_fills_the_dynamic_choices(
    manifest: dict[str, Any], sandbox: Sandbox, sandbox_token: Token
) -> None:
    definitions = manifest["configs"]["schema"]["definitions"]
    result = run_pandium(pandium_env(sandbox, sandbox_token(), PAN_CTX_RUN_MODE="init"), triggers=specs())
    doc = result.document
    for name, definition in definitions.items():
        choices = doc[name]
        assert choices, name
        filled = {**definition, "oneOf": choices}
        for choice in choices:
            jsonschema.validate(choice["const"], filled)


def test_every_run_output_satisfies_the_metadata_schema(
    manifest: dict[str, Any], sandbox: Sandbox, sandbox_token: Token
) -> None:
    schema = manifest["metadata_schema"]["schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    env = pandium_env(sandbox, sandbox_token())
    normal = run_pandium(
        env, triggers=specs(FakeSource("payment_received", [1, 2]), FakeSource("invoice_paid", []))
    )
    jsonschema.validate(normal.document, schema)
    init = run_pandium(
        {**env, "PAN_CTX_RUN_MODE": "init"}, triggers=specs(FakeSource("payment_received", []))
    )
    jsonschema.validate(init.document, schema)
