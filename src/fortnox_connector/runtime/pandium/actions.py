"""Webhook and API runs: every item of every trigger checked, then run exactly once, each with its result.

For each trigger that carries actions (``run_triggers``), in order:

1. the signature is checked (``signatures``) before anything else; a refused trigger runs none of its items;
2. the body is read into items (``instructions``);
3. each item names an action the loaded connectors declare (``ConnectorManager``: ``register_payment``
   today, and any action a connector adds), and its input is validated against that action's input schema;
4. it runs once per idempotency key (``keys``): an action whose input takes ``idempotency_key`` gets it
   (derived when the item names none) and keeps its own record, as ``register_payment`` does (a pending
   record before the POST, so a lost answer is recognised, not repeated); for any other action this module
   records the key after success. Either way a completed key returns the stored result (``replayed``) and
   the same key with another input is refused.

Statuses: ``done``, ``replayed``, ``refused`` (the request itself is wrong: sending it again will not help)
and ``failed`` (Fortnox or the connection failed: send it again with the same key). One item's refusal or
failure never stops the others, except that after Fortnox refuses the token no further item is tried.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.contract.records import ActionSpec
from fortnox_connector.contract.state import IdempotencyRecord
from fortnox_connector.declaration.schemas import schema_error
from fortnox_connector.errors import AuthError, ConfigError, ConnectorError
from fortnox_connector.fortnox.errors import FortnoxValidationError
from fortnox_connector.runtime.catalog import load_catalog
from fortnox_connector.runtime.pandium.instructions import BodyRefused, Item, read_items
from fortnox_connector.runtime.pandium.keys import item_key
from fortnox_connector.runtime.pandium.run_triggers import RunTrigger
from fortnox_connector.runtime.pandium.signatures import SignatureRefused, Verdict

Status = Literal["done", "replayed", "refused", "failed"]
CheckSignature = Callable[[RunTrigger], Verdict]
ActionLookup = Callable[[str], ActionSpec[Any]]


@dataclass(slots=True)
class ItemResult:
    trigger: str
    item: int | None
    action: str | None
    status: Status
    idempotency_key: str | None = None
    signature: Verdict | None = None
    output: Mapping[str, Any] | None = None
    error: ConnectorError | None = None

    def to_json(self) -> dict[str, Any]:
        error = None
        if self.error is not None:
            error = {"type": type(self.error).__name__, "message": str(self.error), "hint": self.error.hint}
        return {
            "trigger": self.trigger,
            "item": self.item,
            "action": self.action,
            "status": self.status,
            "idempotency_key": self.idempotency_key,
            "signature": self.signature,
            "output": dict(self.output) if self.output is not None else None,
            "error": error,
        }


@dataclass
class ActionReport:
    """Every item's result of this run, in order."""

    results: list[ItemResult] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> bool:
        return self.count("failed") > 0

    def to_json(self) -> dict[str, Any]:
        statuses: tuple[Status, ...] = ("done", "replayed", "refused", "failed")
        return {
            "results": [r.to_json() for r in self.results],
            "summary": {"items": len(self.results), **{s: self.count(s) for s in statuses}},
        }


def manager_actions() -> ActionLookup:
    """Actions by name from every loaded connector (the default connector's, as the CLI resolves them)."""
    return load_catalog().connector.action


@dataclass
class ActionRunner:
    ctx: Any  # the connector's own context (session.context)
    lookup: ActionLookup
    check_signature: CheckSignature
    log: logging.LoggerAdapter[logging.Logger]
    past_deadline: Callable[[], bool]
    connector: str = "fortnox"  # the connector's name: part of each idempotency record's key
    report: ActionReport = field(default_factory=ActionReport)
    stop: str | None = None  # why no further item is tried (the token was refused, the deadline passed)

    def run(self, triggers: Sequence[RunTrigger]) -> ActionReport:
        for trigger in triggers:
            if trigger.refusal is not None:
                self._refuse(trigger, None, None, trigger.refusal, "correct the trigger and send it again")
            elif trigger.kind == "actions":
                self._trigger(trigger)
        return self.report

    def _trigger(self, trigger: RunTrigger) -> None:
        try:
            verdict = self.check_signature(trigger)
        except SignatureRefused as exc:
            self._refuse(trigger, None, None, exc.reason, exc.hint)
            return
        try:
            items = read_items(trigger.body or b"")
        except BodyRefused as exc:
            self._refuse(
                trigger, None, None, str(exc), "send an action or a batch (docs/pandium.md)", verdict
            )
            return
        for item in items:
            self._item(trigger, item, verdict)

    def _item(self, trigger: RunTrigger, item: Item, verdict: Verdict) -> None:
        if item.refusal is not None:
            self._refuse(trigger, item, None, item.refusal, "correct the item and send it again", verdict)
            return
        if self.stop is None and self.past_deadline():
            self.stop = "not run: the run reached its deadline"
        if self.stop is not None:
            error = ConnectorError(self.stop, tenant=self.ctx.tenant, hint="send it again with the same key")
            self._add(trigger, item, "failed", None, verdict, error=error)
            return
        assert item.action is not None  # an item without refusal names its action
        try:
            spec = self.lookup(item.action)
        except ConfigError as exc:
            self._add(trigger, item, "refused", None, verdict, error=exc.with_tenant(self.ctx.tenant))
            return
        data, key = _keyed_input(spec, item, trigger)
        try:
            status, output = self._run_once(spec, data, key, own_key=_takes_key(spec))
        except ConnectorError as exc:
            status = "refused" if _is_refusal(exc) else "failed"
            self._add(trigger, item, status, key, verdict, error=exc.with_tenant(self.ctx.tenant))
            if isinstance(exc, AuthError):
                self.stop = "not run: Fortnox refused the token earlier in this run"
            return
        except Exception:
            self.log.exception(
                "action %s of trigger %s failed on an unexpected error", spec.name, trigger.label
            )
            error = ConnectorError("an unexpected error (a bug: please report it)", tenant=self.ctx.tenant)
            self._add(trigger, item, "failed", key, verdict, error=error)
            return
        self._add(trigger, item, status, key, verdict, output=output)

    def _run_once(
        self, spec: ActionSpec[Any], data: Mapping[str, Any], key: str, *, own_key: bool
    ) -> tuple[Status, Mapping[str, Any]]:
        """Run the action once for ``key``: by itself when it takes the key (its own record), else here."""
        _validate(spec, data, self.ctx.tenant)
        if own_key:
            output = dict(spec.run(self.ctx, data))
            return ("replayed" if output.get("idempotent_replay") is True else "done"), output
        record_key = f"pandium:{self.connector}.{spec.name}:{key}"
        fingerprint = _fingerprint(spec.name, data)
        state = self.ctx.state
        with state.lock(f"pandium-item:{self.ctx.tenant}:{record_key}"):
            record = state.load_idempotency(self.ctx.tenant, record_key)
            if record is not None and record.fingerprint != fingerprint:
                raise ActionRejected(
                    f"the idempotency key {key!r} was already used for a different {spec.name} request",
                    tenant=self.ctx.tenant,
                    hint="use a new key for a new request; reuse a key only to send the same request again",
                )
            if record is not None and record.status == "completed" and record.result is not None:
                return "replayed", record.result
            output = dict(spec.run(self.ctx, data))
            state.save_idempotency(
                self.ctx.tenant, IdempotencyRecord(record_key, fingerprint, "completed", output)
            )
        return ("replayed" if output.get("idempotent_replay") is True else "done"), output

    def _refuse(
        self,
        trigger: RunTrigger,
        item: Item | None,
        key: str | None,
        reason: str,
        hint: str,
        verdict: Verdict | None = None,
    ) -> None:
        error = ConnectorError(reason, tenant=self.ctx.tenant, hint=hint)
        self._add(trigger, item, "refused", key, verdict, error=error)

    def _add(
        self,
        trigger: RunTrigger,
        item: Item | None,
        status: Status,
        key: str | None,
        verdict: Verdict | None,
        *,
        output: Mapping[str, Any] | None = None,
        error: ConnectorError | None = None,
    ) -> None:
        result = ItemResult(
            trigger=trigger.label,
            item=item.index if item is not None else None,
            action=item.action if item is not None else None,
            status=status,
            idempotency_key=key,
            signature=verdict,
            output=output,
            error=error,
        )
        self.report.results.append(result)
        where = f"trigger {trigger.label}" + (f" item {item.index}" if item is not None else "")
        if error is None:
            self.log.info("%s: %s %s (key %s)", where, result.action, status, key)
        else:
            level = logging.WARNING if status == "refused" else logging.ERROR
            self.log.log(level, "%s: %s %s: %s", where, result.action or "request", status, error)


def _keyed_input(spec: ActionSpec[Any], item: Item, trigger: RunTrigger) -> tuple[dict[str, Any], str]:
    """The input, with the derived key added when the action takes one and the input has none."""
    data = dict(item.input)
    takes_key = _takes_key(spec)
    given = data.get("idempotency_key") if takes_key else None
    key = str(given).strip() if given is not None and str(given).strip() else item_key(trigger, item)
    if takes_key and given is None:
        data["idempotency_key"] = key
    return data, key


def _takes_key(spec: ActionSpec[Any]) -> bool:
    """An action whose input has ``idempotency_key`` runs once per key itself (``register_payment`` does)."""
    return "idempotency_key" in spec.input_schema.get("properties", {})


def _validate(spec: ActionSpec[Any], data: Mapping[str, Any], tenant: str) -> None:
    validator = jsonschema.Draft202012Validator(spec.input_schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(e.absolute_path)))
    if errors:
        raise schema_error(
            errors[0], what=f"the {spec.name} input", tenant=tenant, hint=f"correct the {spec.name} input"
        )


def _fingerprint(action: str, data: Mapping[str, Any]) -> str:
    """The request without its key, canonical (sorted keys): the same key must carry the same request."""
    body = {k: v for k, v in data.items() if k != "idempotency_key"}
    blob = json.dumps([action, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _is_refusal(exc: ConnectorError) -> bool:
    """The request itself is wrong (or the tenant's settings lack a default it needs): no retry helps."""
    return isinstance(exc, ActionRejected | ConfigError | FortnoxValidationError)
