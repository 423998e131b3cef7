"""The runtime runs any installed connector unchanged: the "acme" ledger through ``run``, ``act``, ``serve``.

The acme plugin (``tests/contract/acme.py``) is registered as if installed, beside Fortnox, and chosen
with ``--connector acme``; nothing in the runtime knows its name, its context or its trigger.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fortnox_connector.runtime.cli import cli
from fortnox_connector.runtime.cli.app import App
from tests.contract import acme


@pytest.fixture
def invoke(tmp_path: Path) -> CliRunnerInvoke:
    acme.LEDGER.clear()
    app = App(
        env={"FORTNOX_CONNECTOR_HOME": str(tmp_path / "state"), "FORTNOX_CLIENT_ID": "acme-app"},
        plugins=[acme.plugin],
        configure_logs=False,
    )
    return CliRunnerInvoke(app)


class CliRunnerInvoke:
    def __init__(self, app: App) -> None:
        self.app = app
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(cli, ["--connector", "acme", *args], obj=self.app, catch_exceptions=False)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_act_run_and_serve_drive_the_acme_ledger(invoke: CliRunnerInvoke, tmp_path: Path) -> None:
    invoke("tenants", "add", "t1", "--name", "Ledger One")
    out = tmp_path / "events.jsonl"

    for amount in ("10.00", "20.00", "30.00"):
        posted = json.loads(
            invoke("act", "t1", "post_entry", "--input", json.dumps({"amount": amount})).stdout
        )
    assert posted == {"number": 3, "amount": "30.00", "currency": "EUR"}

    invoke("run", "t1", "entry_posted", "--sink", "file", "--sink-option", f"path={out}", "--json")
    assert [e["dedup_key"] for e in _lines(out)] == ["acme:t1:1", "acme:t1:2", "acme:t1:3"]

    invoke("act", "t1", "post_entry", "--input", '{"amount": "40.00"}')
    invoke("serve", "--once", "--sink", "file", "--sink-option", f"path={out}", "--json")
    assert [e["dedup_key"] for e in _lines(out)][3:] == ["acme:t1:4"]  # from the committed cursor on
    shown = json.loads(invoke("tenants", "show", "t1", "--json").stdout)
    assert shown["triggers"]["entry_posted"]["cursor"] == "4"


def test_an_unknown_trigger_of_the_chosen_connector_lists_its_own(invoke: CliRunnerInvoke) -> None:
    invoke("tenants", "add", "t1")
    result = invoke("run", "t1", "payment_received", "--json", code=1)
    error = json.loads(result.stderr)
    assert (
        "no trigger of the connector 'acme'" in error["error"]
        and error["hint"] == "choose one of: entry_posted"
    )
