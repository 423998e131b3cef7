"""Loading ``connector.yaml``: parsed, validated against ``schemas/connector.schema.json``, made typed.

Errors are ``ConfigError``s naming the field (``auth.base_urls.api.default``, ``secrets.3.env``) and the
fix. The version is checked against the package's ``__version__``: the package is the one source of truth
and the YAML must agree with it, so a host reading the YAML alone sees the version it will run.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from fortnox_connector import __version__
from fortnox_connector.declaration.cron import cron_valid
from fortnox_connector.declaration.manifest import (
    ActionDecl,
    AuthMode,
    AuthModeSpec,
    AuthSpec,
    BaseUrl,
    Declaration,
    Need,
    ScheduleSpec,
    SecretSpec,
    TriggerDecl,
)
from fortnox_connector.declaration.schemas import check, data_dir, schema_exists
from fortnox_connector.errors import ConfigError

DECLARATION_SCHEMA = "connector.schema.json"


def declaration_path() -> Path:
    """``connector.yaml`` in the installed package's data, else at the checkout's root."""
    return data_dir() / "connector.yaml"


def load_declaration(path: str | Path | None = None) -> Declaration:
    """The connector's validated declaration (the shipped one is read once per process)."""
    if path is None:
        return _shipped()
    return parse_declaration(_read(Path(path)), source=str(path))


@functools.cache
def _shipped() -> Declaration:
    path = declaration_path()
    return parse_declaration(_read(path), source=path.name)


def parse_declaration(data: object, *, source: str = "connector.yaml") -> Declaration:
    """Validate ``data`` (the YAML, parsed) and build the ``Declaration``; ``source`` names it in errors."""
    check(data, DECLARATION_SCHEMA, what=source)
    doc = cast(Mapping[str, Any], data)
    _check_semantics(doc, source)
    return _build(doc)


def _read(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"there is no declaration at {path}",
            field="connector.yaml",
            hint="reinstall the connector (the wheel ships connector.yaml) or pass the right path",
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path.name} is not valid YAML{where}",
            field="connector.yaml",
            hint="fix the YAML syntax (indentation, quotes)",
        ) from None


def _fail(source: str, field: str, message: str, hint: str) -> ConfigError:
    return ConfigError(f"{source}: {field}: {message}", field=field, hint=hint)


def _check_semantics(doc: Mapping[str, Any], source: str) -> None:
    """What a JSON Schema cannot say: the version, unique names, known modes, existing schema files."""
    if doc["version"] != __version__:
        raise _fail(
            source,
            "version",
            f"{doc['version']!r} is not the package's version {__version__!r}",
            f"set version: {__version__!r} in {source} (the package's __version__ is the source of truth)",
        )
    _check_names(doc, source)
    _check_schema_files(doc, source)
    _check_schedule(doc["schedule"], source)


def _check_names(doc: Mapping[str, Any], source: str) -> None:
    """Unique auth modes, secret names and variables, trigger and action names; secrets' modes declared."""
    modes = [m["name"] for m in doc["auth"]["modes"]]
    _unique(modes, "auth.modes", "name", source)
    _unique([s["name"] for s in doc["secrets"]], "secrets", "name", source)
    _unique([s["env"] for s in doc["secrets"]], "secrets", "env", source)
    for i, secret in enumerate(doc["secrets"]):
        for mode in secret["modes"]:
            if mode not in modes:
                raise _fail(
                    source,
                    f"secrets.{i}.modes.{mode}",
                    f"the auth mode {mode!r} is not declared under auth.modes",
                    f"declare it under auth.modes or remove it from secret {secret['name']!r}",
                )
    for kind in ("triggers", "actions"):
        _unique([item["name"] for item in doc[kind]], kind, "name", source)


def _check_schema_files(doc: Mapping[str, Any], source: str) -> None:
    """Every schema the declaration names exists under schemas/."""
    paths = [("config.schema", doc["config"]["schema"])]
    paths += [(f"triggers.{i}.event_schema", t["event_schema"]) for i, t in enumerate(doc["triggers"])]
    for i, a in enumerate(doc["actions"]):
        paths += [(f"actions.{i}.input_schema", a["input_schema"])]
        paths += [(f"actions.{i}.output_schema", a["output_schema"])]
    for field, rel in paths:
        if not schema_exists(rel):
            raise _fail(
                source, field, f"there is no schema {rel!r} under schemas/", "add the file or fix the path"
            )


def _check_schedule(schedule: Mapping[str, Any], source: str) -> None:
    """A cron expression of five fields and an IANA time zone."""
    if not cron_valid(schedule["cron"]):
        raise _fail(source, "schedule.cron", f"{schedule['cron']!r} is not a cron expression", "use 5 fields")
    try:
        ZoneInfo(schedule["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(
            source,
            "schedule.timezone",
            f"{schedule['timezone']!r} is not a known timezone",
            "use an IANA name such as Europe/Stockholm",
        ) from None


def _unique(values: Sequence[str], where: str, key: str, source: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise _fail(source, f"{where}.{i}.{key}", f"{value!r} appears twice", f"give each {key} once")
        seen.add(value)


def _build(doc: Mapping[str, Any]) -> Declaration:
    auth = doc["auth"]
    return Declaration(
        id=doc["id"],
        name=doc["name"],
        version=doc["version"],
        description=doc["description"].strip(),
        allowed_hosts=tuple(doc["allowed_hosts"]),
        auth=AuthSpec(
            type=auth["type"],
            modes=tuple(
                AuthModeSpec(m["name"], m["description"].strip(), m["refreshed_by"]) for m in auth["modes"]
            ),
            authorize_path=auth["authorize_path"],
            token_path=auth["token_path"],
            revoke_path=auth["revoke_path"],
            default_scopes=tuple(auth["default_scopes"]),
            token_endpoint_auth_method=auth["token_endpoint_auth_method"],
            authorize_params=dict(auth.get("authorize_params", {})),
            base_urls={
                name: BaseUrl(name, spec["default"].rstrip("/"), spec["env"])
                for name, spec in auth["base_urls"].items()
            },
        ),
        secrets=tuple(
            SecretSpec(
                name=s["name"],
                env=s["env"],
                description=" ".join(s["description"].split()),
                sensitive=s["sensitive"],
                modes=cast(dict[AuthMode, Need], dict(s["modes"])),
                format=s.get("format"),
            )
            for s in doc["secrets"]
        ),
        config_schema=doc["config"]["schema"],
        schedule=ScheduleSpec(doc["schedule"]["cron"], doc["schedule"]["timezone"]),
        triggers=tuple(
            TriggerDecl(
                t["name"],
                t["description"],
                t["event_schema"],
                t.get("example"),
                tuple(t.get("modes", ("poll",))),
            )
            for t in doc["triggers"]
        ),
        actions=tuple(
            ActionDecl(
                a["name"],
                a["description"],
                a["input_schema"],
                a["output_schema"],
                a.get("example", {}).get("input"),
                a.get("example", {}).get("output"),
                tuple(a.get("scopes", ())),
            )
            for a in doc["actions"]
        ),
    )
