"""The connector's JSON Schemas (Draft 2020-12): found, loaded, cross-file ``$ref``s resolved, and checked.

The schemas live in the checkout's ``schemas/`` and, in an installed wheel, in
``fortnox_connector/declaration/data/schemas`` (pyproject's force-include): one lookup serves both, so a
host reads the same files whether it runs from a clone or from ``pip install``.

Every file has the ``$id`` ``BASE_URI + <path relative to schemas/>``, so a relative ``$ref`` such as
``../common.json#/$defs/money`` means the same in a file, in the registry and in a bundle.
``load_schema`` returns a self-contained bundle (the referenced files embedded under ``$defs`` with their
``$id``, as Draft 2020-12 allows), so a host with any 2020-12 validator and no access to our files can use it.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from fortnox_connector.errors import ConfigError

BASE_URI = "https://fortnox-connector.example/schemas/"


def data_dir() -> Path:
    """Where ``connector.yaml`` and ``schemas/`` are: inside the installed package, else the checkout."""
    packaged = Path(__file__).resolve().with_name("data")
    if (packaged / "connector.yaml").is_file():
        return packaged
    return Path(__file__).resolve().parents[3]


def schemas_dir() -> Path:
    return data_dir() / "schemas"


def schema_exists(relpath: str) -> bool:
    """True when ``schemas/<relpath>`` is there (used where another part's schema may not have landed)."""
    try:
        return _path(relpath).is_file()
    except ConfigError:
        return False


def load_schema(relpath: str, *, bundle: bool = True) -> dict[str, Any]:
    """The schema at ``schemas/<relpath>`` (e.g. ``"actions/get_invoice.input.json"``), a fresh copy.

    With ``bundle`` (the default) every file it references, directly or not, is embedded under ``$defs``,
    so the result validates on its own; ``bundle=False`` gives the file as written.
    """
    root = _raw(_normal(relpath))
    if not bundle:
        return copy.deepcopy(root)
    out = copy.deepcopy(root)
    defs: dict[str, Any] = out.setdefault("$defs", {})
    seen = {_normal(relpath)}
    todo = [_normal(relpath)]
    while todo:
        current = todo.pop()
        for ref in _refs(_raw(current)):
            target = _relpath_of(urljoin(BASE_URI + current, ref).partition("#")[0], current, ref)
            if target is None or target in seen:
                continue
            seen.add(target)
            todo.append(target)
            defs[target] = copy.deepcopy(_raw(target))
    if not defs:
        del out["$defs"]
    return out


@functools.cache
def registry() -> Registry[Any]:
    """Every schema file, by its ``$id``: for validating against a file with cross-file ``$ref``s."""
    resources = [
        (BASE_URI + rel, Resource.from_contents(_raw(rel), default_specification=DRAFT202012))
        for rel in all_schema_paths()
    ]
    return Registry().with_resources(resources).crawl()


def all_schema_paths() -> list[str]:
    """Every ``*.json`` under ``schemas/``, as paths relative to it, sorted."""
    root = schemas_dir()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))


@functools.cache
def validator(relpath: str) -> jsonschema.Draft202012Validator:
    """A validator for ``schemas/<relpath>`` that resolves references and checks formats (``date``)."""
    return jsonschema.Draft202012Validator(
        _raw(_normal(relpath)), registry=registry(), format_checker=jsonschema.FormatChecker()
    )


def check(
    instance: object, relpath: str, *, what: str, tenant: str | None = None, hint: str | None = None
) -> None:
    """Validate ``instance`` against ``schemas/<relpath>``; the first error is a ``ConfigError`` naming it.

    ``what`` says what was checked ("connector.yaml", "the tenant's config"); ``hint`` is the fix.
    """
    errors = sorted(validator(relpath).iter_errors(instance), key=_error_order)
    if errors:
        raise schema_error(errors[0], what=what, tenant=tenant, hint=hint)


def schema_error(
    error: jsonschema.ValidationError, *, what: str, tenant: str | None = None, hint: str | None = None
) -> ConfigError:
    """A ``ConfigError`` for one validation error: the dotted path of the field and what is wrong with it."""
    best = jsonschema.exceptions.best_match([error])
    path = [str(p) for p in best.absolute_path]
    reason = best.message
    fix: str | None = None
    if best.validator == "required" and isinstance(best.instance, Mapping):
        missing = [p for p in best.validator_value if p not in best.instance]
        if missing:
            path.append(str(missing[0]))
            reason = "is required"
    elif best.validator == "additionalProperties" and isinstance(best.instance, Mapping):
        known = sorted(best.schema.get("properties", {}))
        extra = sorted(str(k) for k in best.instance if k not in known)
        if extra:
            path.append(extra[0])
            reason = "is not a known field"
            fix = f"remove it or use one of: {', '.join(known) or '(none)'}"
    elif best.validator == "pattern":
        reason = f"{_short(repr(best.instance), 40)} is not in the expected form"
    elif best.validator == "maxLength":
        reason = f"is longer than {best.validator_value} characters"
    elif best.validator == "oneOf" and _required_choices(best.validator_value):
        names = " and ".join(repr(n) for n in _required_choices(best.validator_value))
        reason = f"needs exactly one of {names}"
    field = ".".join(path) or "(top level)"
    return ConfigError(
        f"{what}: {field}: {_short(reason)}",
        field=field,
        tenant=tenant,
        hint=hint or fix or _described(best.schema, field) or f"correct {field} in {what}",
    )


def _described(schema: object, field: str) -> str | None:
    """The fix a field's own schema gives: its ``description`` (the form it wants, with an example)."""
    if isinstance(schema, Mapping) and isinstance(schema.get("description"), str):
        return f"{field}: {schema['description']}"
    return None


def _required_choices(options: object) -> list[str]:
    """The field names of a ``oneOf`` whose options are each ``{"required": [name]}`` (else empty)."""
    if not isinstance(options, list):
        return []
    names = [o["required"][0] for o in options if isinstance(o, Mapping) and len(o.get("required", [])) == 1]
    return names if len(names) == len(options) else []


def _error_order(error: jsonschema.ValidationError) -> tuple[int, str]:
    return (len(error.absolute_path), "/".join(str(p) for p in error.absolute_path))


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _normal(relpath: str) -> str:
    return Path(relpath).as_posix()


def _path(relpath: str) -> Path:
    root = schemas_dir().resolve()
    path = (root / relpath).resolve()
    if root not in path.parents:
        raise ConfigError(
            f"schema path {relpath!r} is outside schemas/",
            field=relpath,
            hint="name a schema by its path relative to schemas/, e.g. actions/get_invoice.input.json",
        )
    return path


@functools.cache
def _raw(relpath: str) -> dict[str, Any]:
    path = _path(relpath)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"there is no schema {relpath!r} in {schemas_dir()}",
            field=relpath,
            hint="reinstall the connector (the wheel ships schemas/) or check the path",
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"schema {relpath!r} is not valid JSON (line {exc.lineno})",
            field=relpath,
            hint="fix the JSON syntax of the schema file",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"schema {relpath!r} is not a JSON object", field=relpath, hint="fix the schema")
    data.setdefault("$id", BASE_URI + relpath)
    return data


def _refs(node: object) -> Iterator[str]:
    """Every ``$ref`` that points into another file (a ``#…`` fragment stays inside its file)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and not value.startswith("#"):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _relpath_of(uri: str, source: str, ref: str) -> str | None:
    if not uri.startswith(BASE_URI):
        raise ConfigError(
            f"schema {source!r} refers to {ref!r}, outside the connector's schemas",
            field=source,
            hint="refer only to files under schemas/ (no network look-ups)",
        )
    return uri[len(BASE_URI) :] or None
