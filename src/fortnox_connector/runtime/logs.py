"""Structured logs for every host mode: the tenant on every line, secrets redacted before anything is written.

``configure_logging`` installs one handler on the root logger (so httpx's and the connector's records both
pass through it) with two filters and a text or JSON formatter:

- ``TenantFilter`` gives every record a ``tenant``: its own (``extra``/``tenant_logger``), else the tenant of
  the ``tenant_scope`` the code runs in (a context variable: each of ``serve``'s worker threads has its own),
  else the process default (``"-"``), so a line can always be attributed — a library's (httpx, the token
  refresh) included;
- ``RedactingFilter`` rewrites the message before it is formatted: ``Bearer``/``Basic`` credentials,
  ``access_token``/``refresh_token``/``client_secret``/``code``/``password`` values, JWTs, user:password in
  URLs and every value passed to ``register_secret`` become ``***``. ``Secret`` objects mask themselves;
  the filter also masks them in ``extra`` fields. The formatters redact their final text once more, so a
  traceback that quotes a token is masked too.

The filters rewrite the record in place, so any other handler (pytest's ``caplog``) sees the redacted text.
"""

from __future__ import annotations

import json as _json
import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from fortnox_connector.secrets import Secret

MASK: Final = "***"
NO_TENANT: Final = "-"

_HANDLER_MARK: Final = "_fortnox_connector_handler"

# The attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
    | {"message", "asctime", "tenant", "taskName"}
)

_KEYS = r"access_token|refresh_token|id_token|client_secret|password"
_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # Authorization header values: "Bearer <token>", "Basic <base64 of id:secret>".
    (re.compile(r"\b(Bearer)(\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE), rf"\1\2{MASK}"),
    (re.compile(r"\b(Basic)(\s+)[A-Za-z0-9+/]{8,}=*"), rf"\1\2{MASK}"),
    # key=value, key: value, "key": "value", 'key': 'value' (query strings, form bodies, JSON, reprs).
    (
        re.compile(rf"""(?i)(["']?\b(?:{_KEYS})\b["']?\s*[:=]\s*["']?)([^\s"'&,;}}\])]+)"""),
        rf"\1{MASK}",
    ),
    # The OAuth authorization ``code`` (lower case, as on the wire). An all-digit value is a Fortnox error
    # code (e.g. 2000311) and Fortnox's own ``Code`` fields (modes of payment) are capitalised: both kept.
    # All-digit means up to the value's end: an OAuth code may start with digits then a dash ("57-5ahu…").
    (
        re.compile(r"""(["']?\bcode\b["']?\s*[:=]\s*["']?)(?!\d+(?:[\s"'&,;}\])]|$))([^\s"'&,;}\])]+)"""),
        rf"\1{MASK}",
    ),
    # A JWT (Fortnox access tokens are JWTs) wherever it appears.
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), MASK),
    # Credentials in a URL: scheme://user:password@host.
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^/\s@]+@", re.IGNORECASE), rf"\1{MASK}@"),
)

_SECRET_KEY: Final = re.compile(rf"(?i:{_KEYS}|authorization)|code")

_registry_lock = threading.Lock()
_registered: set[str] = set()


def register_secret(value: Secret | str | None) -> None:
    """Mask this exact value in every log line from now on (e.g. a token injected by the host).

    Values shorter than 8 characters are ignored: masking them would mangle ordinary words.
    """
    text = value.reveal() if isinstance(value, Secret) else value
    if text and len(text) >= 8:
        with _registry_lock:
            _registered.add(text)


def redact_text(text: str) -> str:
    """``text`` with every credential pattern and registered secret replaced by ``***``."""
    with _registry_lock:
        known = sorted(_registered, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _safe_value(value: Any) -> Any:
    """A JSON-friendly, redacted copy of an ``extra`` value."""
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): MASK if _SECRET_KEY.fullmatch(str(k)) else _safe_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_safe_value(v) for v in value]
    return redact_text(str(value))


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields of ``record`` (everything that is not a standard LogRecord attribute)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


_default_tenant: str = NO_TENANT
_scoped_tenant: ContextVar[str | None] = ContextVar("fortnox_connector_tenant", default=None)


@contextmanager
def tenant_scope(tenant: str | None) -> Iterator[None]:
    """Every record logged in this block (in this thread or task) names ``tenant`` unless it names its own.

    For the work of one tenant in a process that serves many (``serve``'s worker threads): the lines of
    code that knows no tenant (httpx, a token refresh, the store) are attributed all the same.
    """
    token = _scoped_tenant.set(tenant or None)
    try:
        yield
    finally:
        _scoped_tenant.reset(token)


def set_default_tenant(tenant: str | None) -> str | None:
    """The tenant of records that name none (httpx's, a library's): for a process that serves one tenant,
    such as a Pandium run. ``None`` restores ``"-"``. Returns the previous default (None for ``"-"``)."""
    global _default_tenant
    previous = None if _default_tenant == NO_TENANT else _default_tenant
    _default_tenant = tenant or NO_TENANT
    return previous


class TenantFilter(logging.Filter):
    """Give every record a ``tenant`` attribute: its own, else the scope's, else the process default."""

    def filter(self, record: logging.LogRecord) -> bool:
        tenant = getattr(record, "tenant", None)
        if tenant in (None, "", NO_TENANT):
            tenant = _scoped_tenant.get() or _default_tenant
        record.tenant = str(tenant)
        return True


class RedactingFilter(logging.Filter):
    """Render the message once, redact it, and redact every ``extra`` field; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the line, nor leak its args
            message = f"{record.msg} (log arguments could not be formatted)"
        record.msg = redact_text(str(message))
        record.args = None
        for key, value in extra_fields(record).items():
            setattr(record, key, _safe_value(value))
        return True


class TextFormatter(logging.Formatter):
    """``2026-11-23T07:00:00.123+00:00 INFO tenant=acme logger: message [key=value …]``, one line."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        when = _timestamp(record)
        extras = " ".join(f"{k}={v}" for k, v in sorted(extra_fields(record).items()))
        line = f"{when} {record.levelname} tenant={getattr(record, 'tenant', NO_TENANT)} {record.name}: "
        line += record.message + (f" [{extras}]" if extras else "")
        exc = self._exception_text(record)
        if exc:
            line += "\n" + exc
        return redact_text(line)

    def _exception_text(self, record: logging.LogRecord) -> str:
        parts = []
        if record.exc_info:
            parts.append(self.formatException(record.exc_info))
        if record.stack_info:
            parts.append(self.formatStack(record.stack_info))
        return "\n".join(parts)


class JsonFormatter(TextFormatter):
    """One JSON object per line: time, level, logger, message, tenant, the ``extra`` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
            "tenant": getattr(record, "tenant", NO_TENANT),
        }
        for key, value in extra_fields(record).items():
            doc.setdefault(key, _safe_value(value))
        exc = self._exception_text(record)
        if exc:
            doc["exc"] = redact_text(exc)
        return _json.dumps(doc, ensure_ascii=False, default=str)


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")


def configure_logging(*, json: bool = False, level: str = "INFO", stream: TextIO = sys.stderr) -> None:
    """Send every log record to ``stream``, one line each, tenant on each, secrets redacted.

    Idempotent: calling it again replaces the handler it installed before (never adds a second one).
    Above DEBUG, httpx is held at WARNING (the Fortnox client logs each answer itself); httpcore always is.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(TenantFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.setLevel(numeric)
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.getLogger("httpx").setLevel(logging.WARNING if numeric > logging.DEBUG else logging.DEBUG)
    logging.getLogger("httpcore").setLevel(logging.WARNING)  # connection traces: noise even when debugging


class TenantAdapter(logging.LoggerAdapter[logging.Logger]):
    """Adds ``tenant`` to every record; a call's own ``extra`` keys are kept (its tenant wins)."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


def tenant_logger(
    tenant: str | None, name: str = "fortnox_connector"
) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose every line names ``tenant`` (``"-"`` for None)."""
    return TenantAdapter(logging.getLogger(name), {"tenant": tenant if tenant else NO_TENANT})
