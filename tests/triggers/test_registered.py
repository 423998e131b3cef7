"""The triggers as a host finds them (``ConnectorManager`` and the ``fortnox`` plugin), run on the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from fortnox_connector import plugin
from fortnox_connector.contract.manager import ConnectorManager
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.triggers import invoice_paid, payment_received
from tests.triggers.support import Host


@pytest.mark.parametrize("module", [payment_received, invoice_paid])
def test_the_registered_trigger_is_the_module_and_runs(
    module: ModuleType, sandbox: Sandbox, make_host: Callable[..., Host]
) -> None:
    manager = ConnectorManager.load(entry_points=False, plugins=[plugin])
    spec = manager.connector("fortnox").trigger(module.NAME)
    assert spec.poll is module.poll
    assert spec.event_schema["$id"].endswith(module.EVENT_SCHEMA_PATH)
    host = make_host()

    outcome = host.run(spec)  # every delivered event is checked against the registered schema

    assert outcome.complete and outcome.summary.events > 0
