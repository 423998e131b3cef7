"""An installed plugin left out for naming an unknown connector takes its own connector with it.

Its triggers' connector then exists for nobody, so another installed plugin that relies on it is broken too:
it must be skipped with a warning like the first, not fail the whole host.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fortnox_connector.contract.hookspecs import hookimpl
from fortnox_connector.contract.manager import ConnectorManager, PluginLoadWarning
from fortnox_connector.contract.records import ConnectorDefinition, TriggerSpec
from tests.contract.plugins import poll
from tests.contract.test_manager import fake_entry_points


class HalfBroken:
    """Registers the connector ``beta`` and a trigger of a connector nobody registers."""

    @hookimpl
    def register_connectors(self) -> Iterator[ConnectorDefinition]:
        yield ConnectorDefinition("beta", "Beta", "1.0", "Beta's ledger")

    @hookimpl
    def register_triggers(self) -> Iterator[TriggerSpec]:
        yield TriggerSpec("nobody", "ping", "a ping", {"type": "object"}, poll)


class BetaTriggers:
    """A trigger for ``beta``, which only ``HalfBroken`` registers."""

    @hookimpl
    def register_triggers(self) -> Iterator[TriggerSpec]:
        yield TriggerSpec("beta", "pong", "a pong", {"type": "object"}, poll)


half_broken = HalfBroken()
beta_triggers = BetaTriggers()


def test_a_plugin_relying_on_a_skipped_plugins_connector_is_skipped_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_entry_points(
        monkeypatch,
        ("half", "tests.contract.test_orphan_cascade:half_broken"),
        ("beta-triggers", "tests.contract.test_orphan_cascade:beta_triggers"),
        ("acme", "tests.contract.plugins:acme"),
    )
    with pytest.warns(PluginLoadWarning) as caught:
        m = ConnectorManager.load()
    assert sorted(s.name for s in m.skipped) == ["beta-triggers", "half"]
    assert len(caught) == 2 and all("skipped the connectors plugin" in str(w.message) for w in caught)
    assert [c.name for c in m.connectors()] == ["fortnox", "acme"]
    assert [(t.connector, t.name) for t in m.triggers() if t.connector != "fortnox"] == [("acme", "ping")]
    assert not m.plugin_manager.has_plugin("beta-triggers")
