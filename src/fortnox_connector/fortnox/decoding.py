"""Answers' bytes to typed records: a list page (``{"Invoices": [...], "MetaInformation": {...}}``) or one
resource (``{"Invoice": {...}}``).

The usual answer is decoded in one msgspec pass straight into the records (``records.py``), no dict in
between. When that pass refuses the answer (drift it cannot read, a missing key, not JSON at all) the
answer is read again the slow way — ``wire.loads_lenient``, the shape checked step by step, each record
mended by ``records.lenient`` — so what can be read is, and what cannot gets an error that says exactly what.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

from fortnox_connector.fortnox.records import MalformedRecord, Page, parse_record
from fortnox_connector.fortnox.wire import Meta, loads_lenient, parse_meta

S = TypeVar("S", bound=msgspec.Struct)


class Unreadable(ValueError):
    """The answer cannot be read; the message says why (``__cause__`` is the ``MalformedRecord`` if any)."""


class _Meta(msgspec.Struct, frozen=True, kw_only=True):
    current_page: int | None = msgspec.field(default=None, name="@CurrentPage")
    total_pages: int = msgspec.field(name="@TotalPages")
    total_resources: int = msgspec.field(name="@TotalResources")


@cache
def _page_decoder(key: str, cls: type[msgspec.Struct]) -> msgspec.json.Decoder[Any]:
    wire = msgspec.defstruct(
        f"{key}Page",
        [
            ("items", list[cls], msgspec.field(name=key)),  # type: ignore[valid-type]
            ("meta", _Meta | None, msgspec.field(default=None, name="MetaInformation")),
        ],
        kw_only=True,
    )
    return msgspec.json.Decoder(wire, strict=False)


@cache
def _one_decoder(key: str, cls: type[msgspec.Struct]) -> msgspec.json.Decoder[Any]:
    wire = msgspec.defstruct(f"{key}One", [("item", cls, msgspec.field(name=key))])
    return msgspec.json.Decoder(wire, strict=False)


def decode_page(content: bytes, key: str, cls: type[S], requested_page: int, limit: int) -> Page[S]:
    """One page of ``cls`` records under ``key``; raises ``Unreadable``."""
    try:
        wire = _page_decoder(key, cls).decode(content)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _slow_page(content, key, cls, requested_page, limit)
    items: list[S] = wire.items
    meta = _meta(wire.meta, requested_page, len(items), limit)
    return Page(tuple(items), meta.current_page, meta.total_pages, meta.total_resources)


def decode_one(content: bytes, key: str, cls: type[S]) -> S:
    """The ``cls`` record under ``key``; raises ``Unreadable``."""
    try:
        item: S = _one_decoder(key, cls).decode(content).item
        return item
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    value = _json_object(content).get(key)
    if not isinstance(value, dict):
        raise Unreadable(f"the answer has no object under {key!r}")
    return _record(cls, value)


def decode_raw_page(content: bytes, key: str, requested_page: int, limit: int) -> Page[dict[str, Any]]:
    """A page of plain JSON objects (``FortnoxClient.iter_pages``)."""
    data = _json_object(content)
    items = _items(data, key)
    meta = parse_meta(data, requested_page, len(items), limit)
    if meta is None:
        raise Unreadable("its MetaInformation cannot be read")
    return Page(tuple(items), meta.current_page, meta.total_pages, meta.total_resources)


def _slow_page(content: bytes, key: str, cls: type[S], requested_page: int, limit: int) -> Page[S]:
    raw = decode_raw_page(content, key, requested_page, limit)
    items = tuple([_record(cls, item) for item in raw.items])
    return Page(items, raw.current_page, raw.total_pages, raw.total_resources)


def _meta(meta: _Meta | None, requested_page: int, count: int, limit: int) -> Meta:
    if meta is None:
        absent = parse_meta({}, requested_page, count, limit)
        assert absent is not None  # an absent MetaInformation always reads
        return absent
    return Meta(meta.current_page or requested_page, meta.total_pages, meta.total_resources)


def _json_object(content: bytes) -> dict[str, Any]:
    data = loads_lenient(content)
    if data is None:
        raise Unreadable("the answer is not JSON")
    if not isinstance(data, dict):
        raise Unreadable("the answer is not a JSON object")
    return data


def _items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Unreadable(f"the answer has no list of objects under {key!r}")
    return items


def _record(cls: type[S], raw: dict[str, Any]) -> S:
    try:
        return parse_record(cls, raw)
    except MalformedRecord as exc:
        raise Unreadable(str(exc)) from exc
