"""ConnectorManager: entry points, host plugins, duplicates, broken plugins, the load filter, observers."""

from __future__ import annotations

import doctest
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import EntryPoint, entry_points

import pytest

from fortnox_connector import plugin as fortnox_plugin
from fortnox_connector.contract import (
    LOAD_PLUGINS_ENV,
    Connector,
    ConnectorManager,
    PluginLoadWarning,
    SinkSpec,
    TenantSpec,
    hookimpl,
    hookspecs,
    manager,
)
from fortnox_connector.contract.state import Token
from fortnox_connector.errors import ConfigError
from fortnox_connector.secrets import Secret
from tests.contract import plugins
from tests.contract.acme import LEDGER
from tests.contract.plugins import NullSink, bare

FORTNOX_EP = EntryPoint(name="fortnox", value="fortnox_connector.plugin", group="connectors")


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, *extra: tuple[str, str]) -> None:
    """Make the manager see the fortnox entry point plus ``(name, "module:attr")`` ones."""
    eps = [FORTNOX_EP] + [EntryPoint(name=n, value=v, group="connectors") for n, v in extra]

    def fake(*, group: str) -> list[EntryPoint]:
        assert group == "connectors"
        return eps

    monkeypatch.setattr(manager, "entry_points", fake)


def test_the_installed_entry_point_loads_the_fortnox_connector() -> None:
    m = ConnectorManager.load()
    [info] = [p for p in m.plugins() if p.source == "entry point"]
    assert (info.name, info.distribution) == ("fortnox", "fortnox-connector")
    fortnox = m.connector("fortnox")
    assert m.connector() is fortnox  # the only one installed
    assert fortnox.title == "Fortnox" and fortnox.declaration is not None
    assert fortnox.config_schema["properties"]["backfill_days"]["default"] == 30
    assert "common.json" in fortnox.config_schema["$defs"]  # self-contained
    assert [t.name for t in fortnox.triggers] == ["payment_received", "invoice_paid"]
    assert [a.name for a in fortnox.actions][:2] == ["register_payment", "get_invoice"]
    action = fortnox.action("register_payment")
    assert "idempotency_key" in action.input_schema["required"]
    assert "payment_number" in action.output_schema["properties"]
    assert all(t.event_schema.get("type") == "object" for t in fortnox.triggers)
    assert fortnox.trigger("invoice_paid").poll is fortnox_plugin.TRIGGER_MODULES[1].poll
    assert m.sinks() == []  # sinks are the runtime's plugins: a host registers them if it wants them
    assert m.skipped == ()


def test_plugin_records_agree_with_the_declaration() -> None:
    fortnox = ConnectorManager.load(entry_points=False, plugins=[fortnox_plugin]).connector()
    decl = fortnox.declaration
    assert decl is not None
    polled = [t for t in decl.triggers if t.polled]  # stream-only triggers have no poll (docs/stream.md)
    assert [t.name for t in fortnox.triggers] == [t.name for t in polled]
    for module, declared in zip(fortnox_plugin.TRIGGER_MODULES, polled, strict=True):
        assert declared.event_schema == module.EVENT_SCHEMA_PATH
        assert fortnox.trigger(declared.name).description == module.DESCRIPTION == declared.description
    assert sorted(fortnox_plugin.ACTION_FUNCTIONS) == sorted(a.name for a in decl.actions)


def test_hookspec_docstrings_are_runnable_examples() -> None:
    result = doctest.testmod(hookspecs, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6 and result.failed == 0


def test_a_host_opens_a_connector_and_polls_and_acts_by_name() -> None:
    LEDGER.clear()
    acme = ConnectorManager.load(entry_points=False, plugins=[plugins.acme]).connector("acme")
    with acme.open(TenantSpec("t1", config={"currency": "SEK"}, secrets={"client_id": "k"})) as session:
        assert session.action("post_entry").run({"amount": "12.50"})["number"] == 1
        page = session.trigger("entry_posted").poll(None)
    assert [e.dedup_key for e in page.events] == ["acme:t1:1"] and page.cursor == "1"
    assert page.events[0].payload["currency"] == "SEK"


def test_errors_from_a_connector_name_the_tenant_and_the_fix() -> None:
    acme = ConnectorManager.load(entry_points=False, plugins=[plugins.acme]).connector("acme")
    with (
        pytest.raises(ConfigError, match="tenant t9: acme needs the secret 'client_id'") as err,
        acme.open(TenantSpec("t9")),
    ):
        pass
    assert err.value.tenant == "t9" and err.value.hint == "give it in the secrets"
    with (
        acme.open(TenantSpec("t9", secrets={"client_id": "k"})) as session,
        pytest.raises(ConfigError, match=r"tenant t9: .*no trigger of the connector 'acme' called 'x'"),
    ):
        session.trigger("x")


def test_unknown_names_list_the_known_ones() -> None:
    m = ConnectorManager.load(entry_points=False, plugins=[fortnox_plugin])
    with pytest.raises(ConfigError, match="no trigger of the connector 'fortnox' called 'refund'") as err:
        m.connector("fortnox").trigger("refund")
    assert err.value.hint == "choose one of: invoice_paid, payment_received"
    with pytest.raises(ConfigError, match="no sink called 'kafka'") as err:
        m.make_sink("kafka")
    assert err.value.hint == "choose one of: (none registered)"
    with pytest.raises(ConfigError, match="no connector called 'visma'") as err:
        m.connector("visma")
    assert err.value.hint == "choose one of: fortnox"


def test_host_plugins_register_in_order() -> None:
    m = ConnectorManager.load(entry_points=False, plugins=[fortnox_plugin, plugins.acme])
    assert [c.name for c in m.connectors()] == ["fortnox", "acme"]
    assert [t.name for t in m.connector("acme").triggers] == ["entry_posted"]
    assert isinstance(m.make_sink("null"), NullSink)
    assert [p.source for p in m.plugins()] == ["host", "host"]
    with pytest.raises(ConfigError, match="no connector called 'None'") as err:
        m.connector()  # two installed: the host must name one
    assert err.value.hint == "choose one of: acme, fortnox"


class SecondFortnox:
    @hookimpl
    def register_connectors(self) -> Iterator[Connector[object]]:
        yield bare("fortnox")


class SecondStdout:
    @hookimpl
    def register_sinks(self) -> Iterator[SinkSpec]:
        yield SinkSpec("null", "mine", lambda options: NullSink())


class TwiceInOnePlugin:
    @hookimpl
    def register_sinks(self) -> Iterator[SinkSpec]:
        yield SinkSpec("null", "one", lambda options: NullSink())
        yield SinkSpec("null", "two", lambda options: NullSink())


class TriggerTwice:
    @hookimpl
    def register_connectors(self) -> Iterator[Connector[object]]:
        yield bare("beta", "ping", "ping")


@pytest.mark.parametrize(
    ("duplicate", "what"),
    [(SecondFortnox(), "the connector 'fortnox'"), (SecondStdout(), "the sink 'null'")],
)
def test_duplicate_names_are_rejected_naming_both_plugins(duplicate: object, what: str) -> None:
    with pytest.raises(ConfigError, match=f"{what} is registered by plugin '.*' and by plugin '.*'") as err:
        ConnectorManager.load(entry_points=False, plugins=[fortnox_plugin, plugins.acme, duplicate])
    assert err.value.hint is not None and LOAD_PLUGINS_ENV in err.value.hint


def test_a_duplicate_within_one_plugin_is_rejected() -> None:
    with pytest.raises(ConfigError, match="the sink 'null' is registered twice by plugin"):
        ConnectorManager.load(entry_points=False, plugins=[TwiceInOnePlugin()])
    with pytest.raises(ConfigError, match="the trigger 'ping' is registered twice by plugin"):
        ConnectorManager.load(entry_points=False, plugins=[TriggerTwice()])


def test_a_duplicate_entry_point_fails_loudly_too(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, ("fork", "tests.contract.test_manager:SECOND_FORTNOX"))
    with pytest.raises(ConfigError, match="the connector 'fortnox' is registered by plugin 'fortnox' and by"):
        ConnectorManager.load()


SECOND_FORTNOX = SecondFortnox()


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("tests.contract.no_such_module", "ModuleNotFoundError"),
        ("tests.contract.plugins:raising_hook", "the plugin's database is gone"),
        ("tests.contract.plugins:wrong_record", "yielded dict, not Connector"),
        ("tests.contract.plugins:unknown_hook", "register_widgets"),
    ],
)
def test_a_broken_entry_point_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, target: str, reason: str
) -> None:
    fake_entry_points(monkeypatch, ("broken", target), ("acme", "tests.contract.plugins:acme"))
    with pytest.warns(PluginLoadWarning, match="skipped the connectors plugin 'broken'") as caught:
        m = ConnectorManager.load()
    assert len(caught) == 1 and reason in str(caught[0].message)
    assert f"({target}" in str(caught[0].message) and LOAD_PLUGINS_ENV in str(caught[0].message)
    assert [c.name for c in m.connectors()] == ["fortnox", "acme"]
    assert [s.name for s in m.skipped] == ["broken"] and reason in m.skipped[0].reason
    assert not m.plugin_manager.has_plugin("broken")


def test_a_broken_plugin_the_host_passes_fails_loudly() -> None:
    with pytest.raises(RuntimeError, match="database is gone"):
        ConnectorManager.load(entry_points=False, plugins=[plugins.raising_hook])
    with pytest.raises(Exception, match="register_widgets"):
        ConnectorManager.load(entry_points=False, plugins=[plugins.unknown_hook])


def test_the_same_entry_point_seen_twice_loads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, ("fortnox", "fortnox_connector.plugin"))
    m = ConnectorManager.load()
    assert [p.name for p in m.plugins() if p.source == "entry point"] == ["fortnox"]


def test_a_plugin_both_passed_and_installed_registers_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch)
    m = ConnectorManager.load(plugins=[fortnox_plugin])
    assert [c.name for c in m.connectors()] == ["fortnox"]


@pytest.mark.parametrize(
    ("variable", "value", "connectors"),
    [
        (LOAD_PLUGINS_ENV, "", []),
        (LOAD_PLUGINS_ENV, "acme", ["acme"]),
        (LOAD_PLUGINS_ENV, "fortnox,acme", ["fortnox", "acme"]),
        (LOAD_PLUGINS_ENV, " Fortnox_Connector ", ["fortnox"]),  # a distribution name, as packaging has it
        (LOAD_PLUGINS_ENV, "nothing-installed", []),
        ("FORTNOX_CONNECTOR_LOAD_PLUGINS", "acme", ["acme"]),  # the older name is still honoured
    ],
)
def test_the_env_var_limits_which_entry_points_load(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, connectors: list[str]
) -> None:
    real = FORTNOX_EP
    for ep in entry_points(group="connectors"):
        if ep.name == "fortnox":
            real = ep  # the installed one knows its distribution
    acme = EntryPoint(name="acme", value="tests.contract.plugins:acme", group="connectors")
    monkeypatch.setattr(manager, "entry_points", lambda *, group: [real, acme])
    monkeypatch.setenv(variable, value)
    m = ConnectorManager.load()
    assert [c.name for c in m.connectors()] == connectors


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    @hookimpl
    def on_checkpoint(self, tenant: str, trigger: str, cursor: str) -> None:
        self.calls.append((tenant, trigger, cursor))

    @hookimpl
    def on_token_refreshed(self, tenant: str, scope: frozenset[str]) -> None:
        self.calls.append((tenant, scope))  # an observer may take only the arguments it needs


class Failing:
    @hookimpl
    def on_checkpoint(self, tenant: str) -> None:
        raise RuntimeError("observer down")


def test_observers_are_called_and_a_failing_one_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    m = ConnectorManager.load(entry_points=False, plugins=[fortnox_plugin, recorder, Failing()])
    with caplog.at_level(logging.DEBUG):
        m.notify_checkpoint("t1", "payment_received", "2026-03-02T10:00:00|731")
        m.notify_token_refreshed("t1", datetime(2026, 3, 2, 11, tzinfo=UTC), ["payment", "invoice"])
    assert recorder.calls == [
        ("t1", "payment_received", "2026-03-02T10:00:00|731"),
        ("t1", frozenset({"invoice", "payment"})),
    ]
    m.token_refreshed(
        "t2", Token(Secret("at-secret"), datetime(2026, 3, 2, 12, tzinfo=UTC), frozenset({"x"}))
    )
    assert recorder.calls[-1] == ("t2", frozenset({"x"}))
    assert "at-secret" not in caplog.text
    [failed] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "failed in on_checkpoint" in failed.getMessage() and failed.tenant == "t1"  # type: ignore[attr-defined]
    refreshed = [r.getMessage() for r in caplog.records if r.name == "fortnox_connector.plugin"]
    assert "token refreshed, expires 2026-03-02T11:00:00+00:00, scope invoice payment" in refreshed
