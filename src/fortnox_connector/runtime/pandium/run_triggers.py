"""What started this run: ``PAN_CTX_RUN_TRIGGERS``, one object per cron, manual, webhook or API trigger.

Pandium bundles the triggers that arrive while a tenant's run is in flight into the next run, so a run may
carry many (crons only with crons; webhook, API and manual ones together). Each is read on its own, and a
trigger this code cannot read is refused *alone*: the others still run.

The shape is not fully documented (``docs/pandium.md``): Pandium's page names a trigger's ``mode``,
``source``, ``payload`` and ``headers``; its sample integrations add an ``id`` and pass a webhook's raw body
as a file (``"payload": {"file": "/path"}``). Those five fields are accepted; any other field refuses the
trigger with an error naming it, so a shape we have not seen is reported instead of guessed at.

- ``kind``: ``"poll"`` for ``cron``/``manual``/``schedule`` triggers, ``"actions"`` for ``webhook``/``api``
  ones (``source`` first, else ``mode``; with neither, a trigger with a payload carries actions).
- ``body``: the payload as bytes, the form its signature covers: a file's bytes, a string's UTF-8, or an
  already parsed object written back as compact JSON (keys in the order received).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from fortnox_connector.errors import ConfigError

RUN_TRIGGERS_ENV: Final = "PAN_CTX_RUN_TRIGGERS"
FIELDS: Final = ("id", "source", "mode", "payload", "headers")
POLL_SOURCES: Final = frozenset({"cron", "manual", "schedule", "scheduled"})
ACTION_SOURCES: Final = frozenset({"webhook", "api"})
MAX_BODY_BYTES: Final = 5_000_000  # a payment instruction is a few hundred bytes; refuse what is absurd

Kind = Literal["poll", "actions"]


@dataclass(frozen=True, slots=True)
class RunTrigger:
    """One trigger of the run, read; ``refusal`` says why it cannot be used (then nothing else is set)."""

    index: int
    id: str | None
    source: str | None
    kind: Kind | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None  # for "actions" triggers
    refusal: str | None = None

    @property
    def label(self) -> str:
        """How results and logs name it: its id, else its position in the list."""
        return self.id if self.id is not None else f"#{self.index}"


def read_run_triggers(env: Mapping[str, str], *, tenant: str) -> list[RunTrigger]:
    """Every trigger of ``PAN_CTX_RUN_TRIGGERS`` (none when unset); a malformed list is a ``ConfigError``."""
    raw = env.get(RUN_TRIGGERS_ENV, "").strip()
    if not raw:
        return []
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _bad_list(f"is not JSON (line {exc.lineno}, column {exc.colno})", tenant) from None
    if isinstance(items, Mapping):
        items = [items]  # one trigger on its own: read it rather than refuse the run
    if not isinstance(items, list):
        raise _bad_list(f"is a JSON {type(items).__name__}, not a list of triggers", tenant)
    return [_read(index, item) for index, item in enumerate(items)]


def _bad_list(reason: str, tenant: str) -> ConfigError:
    return ConfigError(
        f"{RUN_TRIGGERS_ENV} {reason}",
        field=RUN_TRIGGERS_ENV,
        tenant=tenant,
        hint="Pandium sets it to a JSON list of trigger objects; unset it for a plain scheduled run.",
    )


def _read(index: int, item: object) -> RunTrigger:
    if not isinstance(item, Mapping):
        return RunTrigger(index, None, None, refusal=f"the trigger is a JSON {_kind(item)}, not an object")
    trigger_id = _id(item.get("id"))
    source = _word(item.get("source")) or _word(item.get("mode"))
    unknown = sorted(str(k) for k in item if k not in FIELDS)
    if unknown:
        return RunTrigger(
            index,
            trigger_id,
            source,
            refusal=f"the trigger has the field(s) {', '.join(unknown)}, which this connector does not read "
            f"(it reads {', '.join(FIELDS)}); please report this trigger shape",
        )
    payload = item.get("payload")
    kind = _classify(source, payload)
    if kind is None:
        return RunTrigger(
            index,
            trigger_id,
            source,
            refusal=f"unknown trigger source {source!r} (expected one of "
            f"{', '.join(sorted(POLL_SOURCES | ACTION_SOURCES))})",
        )
    if kind == "poll":
        return RunTrigger(index, trigger_id, source, kind="poll")
    headers, header_problem = _headers(item.get("headers"))
    if header_problem is not None:
        return RunTrigger(index, trigger_id, source, refusal=header_problem)
    body, body_problem = _body(payload)
    if body_problem is not None:
        return RunTrigger(index, trigger_id, source, refusal=body_problem)
    return RunTrigger(index, trigger_id, source, kind="actions", headers=headers, body=body)


def _classify(source: str | None, payload: object) -> Kind | None:
    if source in POLL_SOURCES:
        return "poll"
    if source in ACTION_SOURCES:
        return "actions"
    if source is None:
        return "actions" if payload not in (None, "", {}, []) else "poll"
    return None


def _headers(raw: object) -> tuple[dict[str, str], str | None]:
    """Header names lower-cased; a list of values (a repeated header) is joined by spaces."""
    if raw is None:
        return {}, None
    if not isinstance(raw, Mapping):
        return {}, f"the trigger's headers are a JSON {_kind(raw)}, not an object"
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = " ".join(value)
        if not isinstance(value, str):
            return {}, f"the trigger's header {name!r} is not a string"
        headers[str(name).lower()] = value
    return headers, None


def _body(payload: object) -> tuple[bytes | None, str | None]:
    if payload in (None, "", {}, []):
        return None, "the trigger carries no payload (expected an action, or a batch of them)"
    if isinstance(payload, Mapping) and set(payload) == {"file"}:
        return _file(payload["file"])
    if isinstance(payload, str):
        body = payload.encode("utf-8")
    else:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        return None, f"the payload is {len(body)} bytes, over the limit of {MAX_BODY_BYTES}"
    return body, None


def _file(path: object) -> tuple[bytes | None, str | None]:
    if not isinstance(path, str) or not path.strip():
        return None, "the trigger's payload file is not a path"
    try:
        with Path(path).open("rb") as handle:
            body = handle.read(MAX_BODY_BYTES + 1)
    except OSError as exc:
        return None, f"cannot read the trigger's payload file ({exc.strerror or type(exc).__name__})"
    if len(body) > MAX_BODY_BYTES:
        return None, f"the payload file is over the limit of {MAX_BODY_BYTES} bytes"
    return body, None


def _id(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str) and str(value).strip():
        return str(value).strip()
    return None


def _word(value: object) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )
