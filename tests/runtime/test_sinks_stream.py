"""The stdout and file sinks: one JSON line per event, appended and fsynced; failures are DeliveryErrors."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from fortnox_connector.contract.records import Event
from fortnox_connector.errors import ConfigError, DeliveryError
from fortnox_connector.runtime.sinks import SINKS, FileSink, StdoutSink, event_from_json, make_sink


def _events(*keys: str) -> list[Event]:
    return [Event("invoice_paid", "acme", k, {"DocumentNumber": k, "Total": Decimal("99.90")}) for k in keys]


def test_stdout_sink_writes_json_lines() -> None:
    stream = io.StringIO()
    StdoutSink(stream).deliver(_events("1", "2"))
    lines = stream.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "dedup_key": k,
            "trigger": "invoice_paid",
            "tenant": "acme",
            "payload": {"DocumentNumber": k, "Total": "99.90"},
        }
        for k in ("1", "2")
    ]


def test_stdout_sink_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    sink = make_sink("stdout")
    sink.deliver(_events("7"))
    sink.deliver([])
    assert [json.loads(line)["dedup_key"] for line in capsys.readouterr().out.splitlines()] == ["7"]


def test_stdout_sink_closed_stream_is_a_delivery_error() -> None:
    stream = io.StringIO()
    stream.close()
    with pytest.raises(DeliveryError, match="tenant acme"):
        StdoutSink(stream).deliver(_events("1"))


def test_file_sink_appends_private_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = make_sink("file", {"path": str(path)})
    sink.deliver(_events("1", "2"))
    sink.deliver(_events("3"))
    sink.deliver([])
    lines = path.read_text().splitlines()
    assert [event_from_json(line) for line in lines] == [
        Event("invoice_paid", "acme", k, {"DocumentNumber": k, "Total": "99.90"}) for k in ("1", "2", "3")
    ]
    assert path.stat().st_mode & 0o077 == 0
    assert path.read_text().endswith("\n")


def test_file_sink_failure_names_tenant_and_fix(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError) as err:
        FileSink(tmp_path / "missing-dir" / "events.jsonl").deliver(_events("1"))
    assert "tenant acme" in str(err.value) and err.value.hint and "writable" in err.value.hint


def test_registry_lists_sinks_and_refuses_unknown() -> None:
    assert [s.name for s in SINKS] == ["stdout", "file", "webhook"]
    assert all(s.description for s in SINKS)
    with pytest.raises(ConfigError, match="no sink called 'kafka'") as err:
        make_sink("kafka", {})
    assert err.value.hint and "webhook" in err.value.hint
    with pytest.raises(ConfigError, match="needs the option path"):
        make_sink("file", {})
    with pytest.raises(ConfigError, match="no option"):
        make_sink("stdout", {"path": "x"})
