"""The state a Pandium run starts from: the cursors the previous runs committed, one per trigger.

Pandium hands state back in two ways; both hold the JSON document an earlier run printed:

- ``PAN_CTX_TENANT_METADATA_FILE`` names a file with the tenant metadata (every successful run's stdout
  shallow-merged into it, when ``PANDIUM.yaml`` declares a ``metadata_schema``, as ours does);
- ``PAN_CTX_LAST_SUCCESSFUL_RUN_STD_OUT`` holds the last successful run's stdout itself.

The metadata file wins when it holds any trigger key (it is the merged, durable copy); otherwise the last
successful stdout is used, so a tenant created before metadata was enabled keeps its cursors. A failed run's
stdout is never fed back as the last successful one, so after a failure the next run resumes from the last
successful cursors and re-emits what the failed run printed (at least once; the dedup keys repeat).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.logs import tenant_logger
from fortnox_connector.runtime.pandium.settings import LAST_STDOUT_ENV, METADATA_FILE_ENV

_RESET_HINT = (
    "fix or delete the '{key}' key of the tenant's metadata (Pandium: the tenant's metadata / last run "
    "output); without it the trigger starts again from its backfill window and repeats events."
)


@dataclass(frozen=True, slots=True)
class PreviousState:
    """The previous document (as read) and where it came from (``None`` for a first run)."""

    document: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None

    def cursor(self, trigger: str, *, tenant: str) -> str | None:
        """The committed cursor of ``trigger``; a malformed entry is an error, never a silent restart."""
        entry = self.document.get(trigger)
        if entry is None:
            return None
        cursor = entry.get("cursor") if isinstance(entry, Mapping) else entry
        if cursor is None:
            return None
        if not isinstance(cursor, str) or not isinstance(entry, Mapping):
            raise ConfigError(
                f"the previous state's '{trigger}' entry (from {self.source}) has no readable cursor",
                field=f"{trigger}.cursor",
                tenant=tenant,
                hint=_RESET_HINT.format(key=trigger),
            )
        return cursor

    def kept_keys(self, own_keys: Iterable[str]) -> dict[str, Any]:
        """The keys of the previous document that this run does not write (kept as they were)."""
        skip = set(own_keys)
        return {k: v for k, v in self.document.items() if k not in skip}


def load_previous_state(
    env: Mapping[str, str], *, tenant: str, trigger_names: Iterable[str]
) -> PreviousState:
    """Read the previous state from the metadata file or the last successful stdout (see module doc)."""
    names = set(trigger_names)
    path = env.get(METADATA_FILE_ENV, "").strip()
    missing = bool(path) and not Path(path).exists()
    if path:
        document = _read_metadata(Path(path), tenant)
        if names & document.keys():
            return PreviousState(document, METADATA_FILE_ENV)
    raw = env.get(LAST_STDOUT_ENV, "").strip()
    if raw:
        return PreviousState(_parse(raw, LAST_STDOUT_ENV, tenant), LAST_STDOUT_ENV)
    if missing:  # a first run, or the metadata was lost: either way this run backfills, said aloud
        tenant_logger(tenant, __name__).warning(
            "the tenant metadata file %s (%s) does not exist and there is no last run's output: this run "
            "starts from the backfill window (events already sent repeat with their dedup keys)",
            path,
            METADATA_FILE_ENV,
        )
    return PreviousState()


def _read_metadata(path: Path, tenant: str) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}  # a first run: Pandium may not have written one yet
    except OSError as exc:
        raise ConfigError(
            f"cannot read the tenant metadata file {path} ({type(exc).__name__})",
            field=METADATA_FILE_ENV,
            tenant=tenant,
            hint="check that the file Pandium names is readable by the run.",
        ) from None
    return _parse(text, METADATA_FILE_ENV, tenant) if text.strip() else {}


def _parse(text: str, source: str, tenant: str) -> Mapping[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"the previous state in {source} is not JSON (line {exc.lineno}, column {exc.colno})",
            field=source,
            tenant=tenant,
            hint="the connector prints exactly one JSON object; clear the tenant's stored state to restart "
            "from the backfill window (events repeat with their dedup keys).",
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(
            f"the previous state in {source} is a JSON {type(document).__name__}, not an object",
            field=source,
            tenant=tenant,
            hint="clear the tenant's stored state to restart from the backfill window.",
        )
    return document
