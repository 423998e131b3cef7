"""The CLI through click's CliRunner on the sandbox: tenants, connect, check, run, act, serve, manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fortnox_connector.contract.manager import ConnectorManager
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.runtime.browser import approve
from fortnox_connector.runtime.cli import App, cli, main
from fortnox_connector.sandbox import Sandbox
from tests.runtime.runtime_support import PAGES, fortnox_with, page_trigger, sandbox_env

Invoke = Callable[..., Result]


@pytest.fixture
def app(sandbox: Sandbox, tmp_path: Path) -> App:
    real = ConnectorManager.load().connector("fortnox")
    catalog = fortnox_with(page_trigger(limit=7), actions=real.actions)
    company = sandbox.tenant_ids()[0]
    return App(
        env=sandbox_env(sandbox, tmp_path / "state"),
        catalog=catalog,
        open_url=lambda url: approve(url, company=company),
        pacers=PacerRegistry(),
        configure_logs=False,
    )


@pytest.fixture
def invoke(app: App) -> Invoke:
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Result:
        result = runner.invoke(cli, list(args), obj=app, catch_exceptions=False)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    return run


def _json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_tenants_add_list_show_set_remove(invoke: Invoke, tmp_path: Path) -> None:
    invoke("tenants", "add", "acme", "--name", "Acme AB", "--set", "schedule=0 6 * * *")
    invoke("tenants", "add", "svc", "--service-account", "--fortnox-tenant-id", "100002")
    listed = {t["id"]: t for t in _json(invoke("tenants", "list", "--json"))}
    assert listed["acme"]["name"] == "Acme AB" and listed["acme"]["schedule"] == "0 6 * * *"
    assert listed["acme"]["connected"] is False and listed["svc"]["auth_mode"] == "client_credentials"
    assert "Acme AB" in invoke("tenants", "list").stdout

    invoke("tenants", "set", "acme", "--set", "backfill_days=7", "--unset", "schedule")
    shown = _json(invoke("tenants", "show", "acme", "--json"))
    assert shown["config"]["backfill_days"] == 7 and shown["config"]["schedule"] == "0 23 * * *"
    assert shown["token"] is None and shown["triggers"][PAGES] == {"cursor": None, "pending_events": 0}

    bad = invoke("tenants", "set", "acme", "--set", "no_such_setting=1", "--json", code=1)
    error = json.loads(bad.stderr)
    assert error["tenant"] == "acme" and "no_such_setting" in error["error"] and error["hint"]

    invoke("tenants", "remove", "acme", "--yes")
    assert [t["id"] for t in _json(invoke("tenants", "list", "--json"))] == ["svc"]
    gone = invoke("tenants", "show", "acme", code=1)
    assert "tenant acme" in gone.stderr and "Fix:" in gone.stderr


def test_connect_through_the_consent_page_then_check_and_show(invoke: Invoke, sandbox: Sandbox) -> None:
    invoke("tenants", "add", "acme")
    before = _json(invoke("check", "acme", "--json", code=1))
    assert before[0]["check"] == "auth" and not before[0]["ok"] and "connect acme" in before[0]["hint"]
    connected = _json(invoke("connect", "acme", "--json"))
    assert connected["fortnox_tenant_id"] == str(sandbox.tenant_ids()[0])
    assert connected["auth_mode"] == "authorization_code" and "payment" in connected["scope"]
    assert sandbox.stats.token_requests == 1  # one code exchange

    shown = invoke("tenants", "show", "acme", "--json")
    info = json.loads(shown.stdout)
    assert info["connected"] and info["fortnox_tenant_id"] == str(sandbox.tenant_ids()[0])
    assert set(info["token"]) == {"expires_at", "scope"}  # never the token itself
    assert "access_token" not in shown.stdout and "refresh" not in shown.stdout
    human = invoke("tenants", "show", "acme").stdout
    assert "token expires" in human and "backfill_days" in human and "recent runs" in human

    checks = {c["check"]: c for c in _json(invoke("check", "acme", "--json"))}
    assert all(c["ok"] for c in checks.values()), checks
    assert {"auth", "scope payment", "scope invoice", "scope settings", "company", "clock"} <= set(checks)
    assert "ok" in invoke("check", "acme").stdout


def test_check_names_a_missing_licence(invoke: Invoke, sandbox: Sandbox) -> None:
    invoke("connect", "acme")
    sandbox.set_licences(sandbox.tenant_ids()[0], ("invoice", "payment", "companyinformation", "customer"))
    result = invoke("check", "acme", "--json", code=1)
    failed = [c for c in json.loads(result.stdout) if not c["ok"]]
    assert [c["check"] for c in failed] == ["licence settings"]
    assert "licence" in failed[0]["hint"]


def test_a_refused_consent_is_an_error_naming_the_tenant(app: App, invoke: Invoke) -> None:
    app.open_url = lambda url: approve(url, allow=False)
    result = invoke("connect", "acme", code=1)
    assert "tenant acme" in result.stderr and "access_denied" in result.stderr


def test_service_account_connect_then_run(invoke: Invoke, sandbox: Sandbox, tmp_path: Path) -> None:
    connected = _json(invoke("connect", "svc", "--service-account", "--json"))
    assert connected["auth_mode"] == "client_credentials"
    out = tmp_path / "events.jsonl"
    invoke("run", "svc", PAGES, "--sink", "file", "--sink-option", f"path={out}", "--no-progress")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 20 and {e["tenant"] for e in lines} == {"svc"}


def test_run_to_stdout_then_nothing_new(invoke: Invoke, tmp_path: Path) -> None:
    invoke("connect", "acme")
    first = invoke("run", "acme", PAGES, "--json")
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert len(events) == 20 and len({e["dedup_key"] for e in events}) == 20
    summary = json.loads(
        first.stderr.strip().splitlines()[-1]
    )  # with the stdout sink, the result is on stderr
    assert summary["ok"] and summary["delivered"] == 20 and summary["pages"] == 3 and summary["cursor"] == "4"
    second = invoke("run", "acme", PAGES, "--json")
    assert second.stdout == ""  # the cursor moved past everything delivered
    table = invoke("run", "acme", PAGES, "--sink", "file", "--sink-option", f"path={tmp_path / 'e.jsonl'}")
    assert PAGES in table.stdout and "ok" in table.stdout


def test_run_errors_name_the_fix(invoke: Invoke) -> None:
    invoke("connect", "acme")
    unknown = invoke("run", "acme", "no_such_trigger", code=1)
    assert PAGES in unknown.stderr  # lists the known ones
    bad_sink = invoke(
        "run", "acme", PAGES, "--sink", "webhook", "--sink-option", "url=http://127.0.0.1:9", code=1
    )
    assert "secret" in bad_sink.stderr
    no_sink = invoke("run", "acme", PAGES, "--sink", "carrier-pigeon", code=1)
    assert "webhook" in no_sink.stderr  # the sinks there are


def test_a_tenant_that_must_reconnect_is_paused_exit_3(invoke: Invoke, sandbox: Sandbox) -> None:
    invoke("connect", "acme")
    sandbox.oauth.reset()  # every token and refresh token the sandbox issued is gone
    sandbox.set_clock(sandbox.now(), frozen=True)
    from datetime import timedelta

    sandbox.advance(timedelta(hours=2).total_seconds())  # the access token expired: a refresh is needed
    result = invoke("run", "acme", PAGES, "--json", code=3)
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report["paused"] and "reconnect" in report["error"]
    listed = _json(invoke("tenants", "list", "--json"))
    assert listed[0]["paused"] is True
    again = invoke("run", "acme", PAGES, "--json", code=3)
    assert "connect acme" in json.loads(again.stderr.strip().splitlines()[-1])["error"]
    invoke("connect", "acme")  # reconnecting resumes it
    assert _json(invoke("tenants", "list", "--json"))[0]["paused"] is False


def test_act_get_invoice_and_register_payment_once(invoke: Invoke, sandbox: Sandbox, tmp_path: Path) -> None:
    invoke("connect", "acme")
    invoke(
        "tenants",
        "set",
        "acme",
        "--set",
        "default_mode_of_payment=BG",
        "--set",
        "default_mode_of_payment_account=1930",
    )
    company = sandbox.tenant_ids()[0]
    open_invoice = next(
        inv
        for inv in (sandbox.invoice(company, n) for n in range(1, 31))
        if inv["Currency"] == "SEK"
        and inv["Balance"] > 0
        and not inv["Cancelled"]
        and inv["Credit"] == "false"
    )
    number = str(open_invoice["DocumentNumber"])
    got = _json(
        invoke("act", "acme", "get_invoice", "--input", json.dumps({"invoice": {"document_number": number}}))
    )
    assert got["document_number"] == number and got["fully_paid"] is False
    request = {
        "invoice": {"document_number": number},
        "amount": got["balance"],
        "currency": "SEK",
        "payment_date": sandbox.now().date().isoformat(),
        "idempotency_key": "cli-test-1",
    }
    path = tmp_path / "payment.json"
    path.write_text(json.dumps(request))
    paid = _json(invoke("act", "acme", "register_payment", "--input", f"@{path}"))
    assert paid["invoice_balance_after"] == "0.00" and paid["idempotent_replay"] is False
    replay = _json(invoke("act", "acme", "register_payment", "--input", f"@{path}"))
    assert replay["idempotent_replay"] is True and replay["payment_number"] == paid["payment_number"]
    bad = invoke("act", "acme", "get_invoice", "--input", "{not json", code=1)
    assert "--input" in bad.stderr


def test_serve_once_runs_every_tenant_and_reports_the_paused(
    invoke: Invoke, sandbox: Sandbox, app: App, tmp_path: Path
) -> None:
    sink = ("--sink", "file", "--sink-option", f"path={tmp_path / 'events.jsonl'}")
    invoke("connect", "a")
    app.open_url = lambda url: approve(url, company=sandbox.tenant_ids()[1])
    invoke("connect", "b")
    invoke("tenants", "add", "never-connected")
    result = invoke("serve", "--once", *sink, "--json", code=3)
    reports = {r["tenant"]: r for r in json.loads(result.stdout)}
    assert reports["a"]["ok"] and reports["b"]["ok"] and reports["a"]["runs"][0]["delivered"] == 20
    assert (
        reports["never-connected"]["paused"]
        and "connect never-connected" in reports["never-connected"]["error"]
    )
    again = invoke("serve", "--once", *sink, code=3)
    assert "needs attention" in again.stdout and "never-connected" in again.stdout


def test_manifest_prints_the_declaration(invoke: Invoke) -> None:
    data = _json(invoke("manifest", "--json"))
    text = json.dumps(data)
    assert "payment_received" in text and "invoice_paid" in text and "register_payment" in text
    assert "payment_received" in invoke("manifest").stdout


def test_missing_client_settings_say_which_variable(tmp_path: Path) -> None:
    app = App(env={"FORTNOX_CONNECTOR_HOME": str(tmp_path)}, configure_logs=False)
    result = CliRunner().invoke(cli, ["connect", "acme", "--no-browser"], obj=app)
    assert result.exit_code == 1 and "FORTNOX_CLIENT_ID" in result.stderr


def test_main_returns_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["tenants", "list", "--json"],
            app=App(env={"FORTNOX_CONNECTOR_HOME": str(tmp_path)}, configure_logs=False),
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == []
    assert (
        main(
            ["tenants", "show", "x"],
            app=App(env={"FORTNOX_CONNECTOR_HOME": str(tmp_path)}, configure_logs=False),
        )
        == 1
    )
    assert main(["no-such-command"], app=App(configure_logs=False)) == 2
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600


def test_sandbox_command_prints_how_to_point_the_runtime_at_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import fortnox_connector.sandbox as sandbox_pkg
    from fortnox_connector.sandbox.server import run_sandbox

    stop = threading.Event()
    stop.set()  # serve, print, stop at once

    def quick(**kwargs: Any) -> None:
        assert kwargs["host"] == "127.0.0.1" and kwargs["rate_limit"] is True and kwargs["seed"] == 3
        run_sandbox(**{**kwargs, "port": 0}, stop=stop)

    monkeypatch.setattr(sandbox_pkg, "run_sandbox", quick)
    result = CliRunner().invoke(cli, ["sandbox", "--seed", "3"], obj=App(configure_logs=False))
    assert result.exit_code == 0, result.output
    assert "Fortnox sandbox listening on http://127.0.0.1:" in result.stdout
    assert "export FORTNOX_API_URL=http://127.0.0.1:" in result.stdout
    assert "FORTNOX_CLIENT_ID=sandbox-client" in result.stdout


@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
def test_sandbox_command_takes_the_app_credentials_and_never_prints_a_given_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    import httpx

    import fortnox_connector.sandbox as sandbox_pkg
    from fortnox_connector.sandbox.server import run_sandbox

    stop = threading.Event()
    answers: list[int] = []

    def quick(**kwargs: Any) -> None:
        def out(line: str) -> None:
            kwargs["out"](line)
            if line.startswith("Fortnox sandbox listening on "):
                url = line.rsplit(" ", 1)[-1]
                good = httpx.post(
                    f"{url}/oauth-v1/token",
                    auth=("my-app", "my-app-secret-123"),
                    data={"grant_type": "client_credentials"},
                    headers={"TenantId": "100001"},
                )
                bad = httpx.post(
                    f"{url}/oauth-v1/token",
                    auth=("sandbox-client", "sandbox-secret"),
                    data={"grant_type": "client_credentials"},
                    headers={"TenantId": "100001"},
                )
                answers.extend([good.status_code, bad.status_code])
                stop.set()

        run_sandbox(**{**kwargs, "port": 0, "out": out}, stop=stop)

    monkeypatch.setattr(sandbox_pkg, "run_sandbox", quick)
    result = CliRunner().invoke(
        cli,
        ["sandbox", "--client-id", "my-app", "--client-secret", "my-app-secret-123", "--token-ttl", "60"],
        obj=App(configure_logs=False),
    )
    assert result.exit_code == 0, result.output
    assert answers[0] == 200 and answers[1] in (400, 401)  # the given app works, the default one does not
    assert "FORTNOX_CLIENT_ID=my-app" in result.stdout
    assert "my-app-secret-123" not in result.stdout


def test_connect_adopts_a_refresh_token_once(app: App, invoke: Invoke, sandbox: Sandbox) -> None:
    """A tenant connected elsewhere is taken over from its refresh token; then the stored one wins."""
    seed = str(sandbox.issue_token(sandbox.tenant_ids()[0])["refresh_token"])
    invoke("connect", "acme", "--adopt-refresh-token", code=1)  # the variable is not set: a clear error
    app.env = {**app.env, "FORTNOX_OAUTH_REFRESH_TOKEN": seed}
    before = sandbox.stats.token_requests
    first = invoke("connect", "acme", "--adopt-refresh-token", "--json")
    assert _json(first)["seed_used"] is True and _json(first)["auth_mode"] == "authorization_code"
    assert sandbox.stats.token_requests == before + 1  # the seed was refreshed (rotated) once
    again = invoke("connect", "acme", "--adopt-refresh-token", "--json")
    assert _json(again)["seed_used"] is False
    assert sandbox.stats.token_requests == before + 1  # the spent seed was not sent again
    assert seed not in first.stdout + first.stderr + again.stdout + again.stderr
    checks = {c["check"]: c for c in _json(invoke("check", "acme", "--json"))}
    assert checks["auth"]["ok"]


def test_bad_json_input_names_the_tenant_and_the_fix(invoke: Invoke, tmp_path: Path) -> None:
    invoke("tenants", "add", "acme")
    cases = [
        ("tenants", "set", "acme", "--config", "[1, 2]"),
        ("tenants", "set", "acme", "--config", "{not json"),
        ("tenants", "set", "acme", "--config", f"@{tmp_path / 'missing.json'}"),
        ("tenants", "set", "acme", "--set", "no-equals-sign"),
        ("tenants", "add", "beta", "--config", "[1, 2]"),
        ("act", "acme", "get_invoice", "--input", "[1]"),
    ]
    for args in cases:
        result = invoke(*args, *(("--json",) if args[0] == "tenants" else ()), code=1)
        error = json.loads(result.stderr)  # act prints its errors as JSON always
        assert error["tenant"] == (args[2] if args[0] == "tenants" else args[1]), (args, error)
        assert error["hint"], (args, error)


def test_run_times_are_shown_in_the_tenants_time_zone(app: App) -> None:
    from zoneinfo import ZoneInfo

    runner = CliRunner()
    runner.invoke(cli, ["tenants", "add", "acme"], obj=app, catch_exceptions=False)
    runner.invoke(cli, ["tenants", "add", "ny", "--set", "timezone=America/New_York"], obj=app)
    store = app.runtime().store
    expected = {}
    for tenant, zone in (("acme", "Europe/Stockholm"), ("ny", "America/New_York")):
        store.finish_run(store.start_run(tenant, PAGES), summary={"delivered": 1})
        [run] = store.list_runs(tenant)
        local = run.started_at.astimezone(ZoneInfo(zone))
        expected[tenant] = (local.strftime("%Y-%m-%d %H:%M"), local.strftime("%Z"))
    app.close()
    for tenant, (minute, zone_name) in expected.items():
        out = runner.invoke(cli, ["tenants", "show", tenant], obj=app, env={"COLUMNS": "200"}).stdout
        assert f"{minute}:" in out and zone_name in out, out
    listing = runner.invoke(cli, ["tenants", "list"], obj=app, env={"COLUMNS": "200"}).stdout
    assert f"{expected['acme'][0]} {expected['acme'][1]}" in listing, listing
    assert f"{expected['ny'][0]} {expected['ny'][1]}" in listing, listing
