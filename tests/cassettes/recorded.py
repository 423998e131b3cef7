"""What a cassette carries, read straight from its YAML (not through the client): the replays compare the
events and outputs with these figures, so a changed amount or balance — in the code or in the cassette —
fails a test instead of passing unnoticed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"


def bodies(cassette: str) -> list[dict[str, Any]]:
    """The JSON answers recorded in ``cassettes/<cassette>.yaml``, in order (non-JSON ones left out)."""
    data = yaml.safe_load((CASSETTES / f"{cassette}.yaml").read_text(encoding="utf-8"))
    out: list[dict[str, Any]] = []
    for interaction in data["interactions"]:
        text = interaction["response"]["body"]["string"]
        try:
            doc = json.loads(text)
        except (TypeError, ValueError):
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def money(value: Any) -> str:
    """A recorded amount (number or string) as the connector's money text: two decimals."""
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def recorded(cassette: str, key: str, number: str, fields: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """``{record number: (money of each field)}`` for every record under ``key`` in the cassette's answers."""
    out: dict[str, tuple[str, ...]] = {}
    for doc in bodies(cassette):
        items = doc.get(key)
        for item in items if isinstance(items, list) else [items] if isinstance(items, dict) else []:
            out[str(item[number])] = tuple(money(item[f]) for f in fields)
    return out
