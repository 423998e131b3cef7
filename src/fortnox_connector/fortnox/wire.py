"""Fortnox's wire formats: error bodies, lenient JSON, paging metadata, ``lastmodified``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What an error answer said, from any of Fortnox's three shapes (all fields None if unreadable)."""

    code: int | None = None
    message: str | None = None
    oauth_error: str | None = None  # "invalid_grant", "invalid_client", ... (OAuth-style bodies)


def loads_lenient(content: bytes) -> Any:
    """JSON from a body whatever its content type says (Fortnox serves JSON as text/html at times).

    Numbers with a fraction are read as ``Decimal`` straight from their digits, so money never passes
    through a float. Returns None when the body does not look like JSON or does not parse.
    """
    text = content.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if not text or text[0] not in "{[":
        return None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=str)  # NaN stays text: records refuse it
    except ValueError:
        return None


def _ci(mapping: Mapping[str, Any], name: str) -> Any:
    """``mapping[name]`` with the key matched case-insensitively (Fortnox has used both casings)."""
    if name in mapping:
        return mapping[name]
    lower = name.lower()
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == lower:
            return value
    return None


def _code(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def parse_error_body(content: bytes) -> ErrorBody:
    """Read ``{"ErrorInformation":{..}}`` (any casing), ``{"message"}``, ``{"error","error_description"}``."""
    data = loads_lenient(content)
    if not isinstance(data, dict):
        return ErrorBody()
    info = _ci(data, "ErrorInformation")
    if isinstance(info, dict):
        return ErrorBody(code=_code(_ci(info, "code")), message=_text(_ci(info, "message")))
    error = _ci(data, "error")
    if isinstance(error, str) and not error.strip().isdigit():
        return ErrorBody(
            message=_text(_ci(data, "error_description")) or _text(_ci(data, "message")),
            oauth_error=error.strip(),
        )
    return ErrorBody(code=_code(_ci(data, "code")), message=_text(_ci(data, "message")))


@dataclass(frozen=True, slots=True)
class Meta:
    current_page: int
    total_pages: int
    total_resources: int


def parse_meta(data: Mapping[str, Any], requested_page: int, count: int, limit: int) -> Meta | None:
    """The list's ``MetaInformation``; None when present but unreadable.

    Absent (Fortnox documents it on every list, but a proxy or an older answer may drop it): a short page is
    the last; a full page (``count >= limit``) says one more page may follow, so a missing header can never
    end a run after its first 500 records. The total is then what was seen so far (a lower bound that only
    grows, so paging never mistakes it for a shrinking list).
    """
    meta = _ci(data, "MetaInformation")
    if meta is None:
        seen = (requested_page - 1) * limit + count
        more = 1 if count >= limit > 0 else 0
        return Meta(current_page=requested_page, total_pages=requested_page + more, total_resources=seen)
    if not isinstance(meta, dict):
        return None
    values = [_code(_ci(meta, key)) for key in ("@CurrentPage", "@TotalPages", "@TotalResources")]
    current, pages, total = values
    if pages is None or total is None:
        return None
    return Meta(current_page=current or requested_page, total_pages=pages, total_resources=total)


def format_lastmodified(when: datetime | date) -> str:
    """``lastmodified`` as Fortnox reads it: Stockholm wall time ``YYYY-MM-DD HH:MM``, or ``YYYY-MM-DD``.

    Seconds are dropped (rounding down asks for a little more, never less). A naive datetime is refused:
    its zone would be a guess.
    """
    if isinstance(when, datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("lastmodified must be an aware datetime (or a date)")
        return when.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
    return when.isoformat()
