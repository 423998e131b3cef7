"""ConnectorManager: entry points, built-ins, duplicates, broken plugins, the load filter, observers."""

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
    ConnectorDefinition,
    ConnectorManager,
    PluginLoadWarning,
    SinkSpec,
    TriggerSpec,
    hookimpl,
    hookspecs,
    manager,
)
from fortnox_connector.contract.state import Token
from fortnox_connector.errors import ConfigError
from fortnox_connector.secrets import Secret
from tests.contract import plugins
from tests.contract.plugins import NullSink, poll

FORTNOX_EP = EntryPoint(name="fortnox", value="fortnox_connector.plugin", group="connectors")

EXPORT_ACTIONS = ("upsert_customer", "export_invoice", "export_paid_invoice")


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
    assert fortnox.title == "Fortnox" and fortnox.declaration is not None
    assert fortnox.config_schema["properties"]["backfill_days"]["default"] == 30
    assert "common.json" in fortnox.config_schema["$defs"]  # self-contained
    assert [t.name for t in m.triggers("fortnox")] == ["payment_received", "invoice_paid"]
    assert [a.name for a in m.actions("fortnox")] == ["register_payment", "get_invoice", *EXPORT_ACTIONS]
    action = m.action("register_payment")
    assert "idempotency_key" in action.input_schema["required"]
    assert "payment_number" in action.output_schema["properties"]
    assert all(t.event_schema.get("type") == "object" for t in m.triggers())
    assert m.trigger("invoice_paid").poll is fortnox_plugin.TRIGGER_MODULES[1].poll
    assert [s.name for s in m.sinks()] == ["stdout", "file", "webhook"]
    assert m.skipped == ()


def test_plugin_records_agree_with_the_declaration() -> None:
    m = ConnectorManager.load(entry_points=False, plugins=[fortnox_plugin])
    decl = m.connector().declaration
    assert decl is not None
    polled = [t for t in decl.triggers if t.polled]  # stream-only triggers have no poll (docs/stream.md)
    assert [t.name for t in m.triggers()] == [t.name for t in polled]
    for module, declared in zip(fortnox_plugin.TRIGGER_MODULES, polled, strict=True):
        assert declared.event_schema == module.EVENT_SCHEMA_PATH
        assert m.trigger(declared.name).description == module.DESCRIPTION == declared.description
    assert sorted(fortnox_plugin.ACTION_FUNCTIONS) == sorted(a.name for a in decl.actions)


def test_hookspec_docstrings_are_runnable_examples() -> None:
    result = doctest.testmod(hookspecs, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6 and result.failed == 0


def test_unknown_names_list_the_known_ones() -> None:
    m = ConnectorManager.load(entry_points=False, plugins=[fortnox_plugin])
    with pytest.raises(ConfigError, match="no trigger of the connector 'fortnox' called 'refund'") as err:
        m.trigger("refund")
    assert err.value.hint == "choose one of: invoice_paid, payment_received"
    with pytest.raises(ConfigError, match="no action") as err:
        m.action("get_invoice", connector="acme")
    assert err.value.hint is not None and "none registered" in err.value.hint
    with pytest.raises(ConfigError, match="no sink called 'kafka'") as err:
        m.make_sink("kafka")
    assert err.value.hint == "choose one of: file, stdout, webhook"
    with pytest.raises(ConfigError, match="no connector called 'visma'"):
        m.connector("visma")


def test_host_plugins_register_beside_the_builtins() -> None:
    m = ConnectorManager.load(entry_points=False, plugins=[fortnox_plugin, plugins.acme])
    assert [c.name for c in m.connectors()] == ["fortnox", "acme"]
    assert [t.name for t in m.triggers("acme")] == ["ping"]
    assert len(m.triggers()) == 3
    assert m.action("echo", "acme").run(None, {"a": 1}) == {"a": 1}  # type: ignore[arg-type]
    assert isinstance(m.make_sink("null"), NullSink)
    assert [p.source for p in m.plugins()] == ["builtin", "host", "host"]


class SecondFortnox:
    @hookimpl
    def register_connectors(self) -> Iterator[ConnectorDefinition]:
        yield ConnectorDefinition("fortnox", "Fortnox (fork)", "9.9", "a fork")


class SecondPaymentReceived:
    @hookimpl
    def register_triggers(self) -> Iterator[TriggerSpec]:
        yield TriggerSpec("fortnox", "payment_received", "again", {"type": "object"}, poll)


class SecondStdout:
    @hookimpl
    def register_sinks(self) -> Iterator[SinkSpec]:
        yield SinkSpec("stdout", "mine", lambda options: NullSink())


class TwiceInOnePlugin:
    @hookimpl
    def register_sinks(self) -> Iterator[SinkSpec]:
        yield SinkSpec("null", "one", lambda options: NullSink())
        yield SinkSpec("null", "two", lambda options: NullSink())


@pytest.mark.parametrize(
    ("duplicate", "what"),
    [
        (SecondFortnox(), "the connector 'fortnox'"),
        (SecondPaymentReceived(), "the trigger 'payment_received'"),
        (SecondStdout(), "the sink 'stdout'"),
    ],
)
def test_duplicate_names_are_rejected_naming_both_plugins(duplicate: object, what: str) -> None:
    with pytest.raises(ConfigError, match=f"{what} is registered by plugin '.*' and by plugin '.*'") as err:
        ConnectorManager.load(entry_points=False, plugins=[fortnox_plugin, duplicate])
    assert err.value.hint is not None and LOAD_PLUGINS_ENV in err.value.hint


def test_a_duplicate_within_one_plugin_is_rejected() -> None:
    with pytest.raises(ConfigError, match="the sink 'null' is registered twice by plugin"):
        ConnectorManager.load(entry_points=False, plugins=[TwiceInOnePlugin()])


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
        ("tests.contract.plugins:wrong_record", "yielded a dict, not a ActionSpec"),
        ("tests.contract.plugins:unknown_hook", "hooks that do not exist: register_widgets"),
        ("tests.contract.plugins:orphan_trigger", "the connector 'nobody', which no plugin registers"),
    ],
)
def test_a_broken_entry_point_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, target: str, reason: str
) -> None:
    fake_entry_points(monkeypatch, ("broken", target), ("acme", "tests.contract.plugins:acme"))
    with pytest.warns(PluginLoadWarning, match="skipped the connectors plugin 'broken'") as caught:
        m = ConnectorManager.load()
    assert len(caught) == 1 and reason in str(caught[0].message)
    assert f"({target}" in str(caught[0].message) and "FORTNOX_CONNECTOR_LOAD_PLUGINS" in str(
        caught[0].message
    )
    assert [c.name for c in m.connectors()] == ["fortnox", "acme"]
    assert [a.name for a in m.actions()] == ["register_payment", "get_invoice", *EXPORT_ACTIONS, "echo"]
    assert [s.name for s in m.skipped] == ["broken"] and reason in m.skipped[0].reason
    assert [p.name for p in m.plugins() if p.source == "entry point"] == ["fortnox", "acme"]
    assert not m.plugin_manager.has_plugin("broken")


def test_a_broken_plugin_the_host_passes_fails_loudly() -> None:
    with pytest.raises(RuntimeError, match="database is gone"):
        ConnectorManager.load(entry_points=False, plugins=[plugins.raising_hook])
    with pytest.raises(ConfigError, match="which no plugin registers"):
        ConnectorManager.load(entry_points=False, plugins=[plugins.orphan_trigger])


def test_the_same_entry_point_seen_twice_loads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, ("fortnox", "fortnox_connector.plugin"))
    m = ConnectorManager.load()
    assert [p.name for p in m.plugins() if p.source == "entry point"] == ["fortnox"]


def test_a_plugin_both_passed_and_installed_registers_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch)
    m = ConnectorManager.load(plugins=[fortnox_plugin])
    assert [c.name for c in m.connectors()] == ["fortnox"]


@pytest.mark.parametrize(
    ("value", "connectors"),
    [
        ("", []),
        ("acme", ["acme"]),
        ("fortnox,acme", ["fortnox", "acme"]),
        (" Fortnox_Connector ", ["fortnox"]),  # a distribution name, normalised as packaging does
        ("nothing-installed", []),
    ],
)
def test_the_env_var_limits_which_entry_points_load(
    monkeypatch: pytest.MonkeyPatch, value: str, connectors: list[str]
) -> None:
    real = FORTNOX_EP
    for ep in entry_points(group="connectors"):
        if ep.name == "fortnox":
            real = ep  # the installed one knows its distribution
    acme = EntryPoint(name="acme", value="tests.contract.plugins:acme", group="connectors")
    monkeypatch.setattr(manager, "entry_points", lambda *, group: [real, acme])
    monkeypatch.setenv(LOAD_PLUGINS_ENV, value)
    m = ConnectorManager.load()
    assert [c.name for c in m.connectors()] == connectors
    assert [s.name for s in m.sinks()][:3] == ["stdout", "file", "webhook"]  # built-ins always load


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
