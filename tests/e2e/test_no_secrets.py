"""No secret reaches any output of any flow: the CLI (connect, check, run, act, tenants), ``serve``, the demo
and Pandium mode, with every logger at DEBUG and JSON logs.

Every token and authorization code the sandbox hands out is recorded as it is made (a hook on its OAuth
state), together with the app's client secret, the webhook secret and the store's encryption key. Then every
byte each flow wrote is searched for each of them: stdout, stderr, the log stream, the events (JSONL file,
stdout sink, webhook bodies), run history and the SQLite files themselves (database, WAL, shared memory:
tokens are kept there encrypted, never in clear). The same logs show the tenant on every line of tenant work
(httpx's and the token refresh's included) and one summary line per run.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.runtime.browser import approve
from fortnox_connector.runtime.cli import App, cli
from fortnox_connector.runtime.cli.app import WEBHOOK_SECRET_ENV
from fortnox_connector.runtime.context import Runtime, open_store
from fortnox_connector.runtime.logs import configure_logging
from fortnox_connector.runtime.pandium import run as run_pandium
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.sandbox.oauth import OAuthState
from fortnox_connector.secrets import Secret
from tests.e2e.receiver import webhook_receiver
from tests.pandium.helpers import pandium_env
from tests.runtime.runtime_support import add_connected, add_disconnected, sandbox_env, settings_for

WEBHOOK_SECRET = "whsec-e2e-0123456789abcdef"


@pytest.fixture
def issued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every access token, refresh token and authorization code any sandbox makes during the test."""
    made: list[str] = []
    real_issue, real_code = OAuthState.issue, OAuthState.new_code

    def issue(self: OAuthState, *args: Any, **kwargs: Any) -> dict[str, object]:
        answer = real_issue(self, *args, **kwargs)
        made.extend(str(answer[k]) for k in ("access_token", "refresh_token") if k in answer)
        return answer

    def new_code(self: OAuthState, *args: Any, **kwargs: Any) -> str:
        code = real_code(self, *args, **kwargs)
        made.append(code)
        return code

    monkeypatch.setattr(OAuthState, "issue", issue)
    monkeypatch.setattr(OAuthState, "new_code", new_code)
    return made


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log record as a JSON line at DEBUG (httpx included); the root logger restored afterwards."""
    root, httpx_logger = logging.getLogger(), logging.getLogger("httpx")
    handlers, level, httpx_level = list(root.handlers), root.level, httpx_logger.level
    stream = io.StringIO()
    configure_logging(json=True, level="DEBUG", stream=stream)
    yield stream
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    httpx_logger.setLevel(httpx_level)


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _state_files(home: Path) -> dict[str, bytes]:
    """The SQLite database and its WAL/shared-memory files (everything in the state directory but the key)."""
    files = {p.name: p.read_bytes() for p in home.iterdir() if p.is_file() and p.name != "key"}
    assert "state.db" in files
    return files


def _assert_nowhere(secrets: list[str], outputs: dict[str, str | bytes]) -> None:
    assert all(len(s) >= 8 for s in secrets), "a short secret would match by chance"
    for where, blob in outputs.items():
        data = blob if isinstance(blob, bytes) else blob.encode()
        for secret in secrets:
            assert secret.encode() not in data, f"a secret ({secret[:4]}…) in {where}"


@pytest.mark.sandbox(start=None, frozen_clock=False)  # the runtime reads the real clock for its windows
def test_cli_and_serve_never_show_a_secret_and_log_the_tenant_on_every_line(
    sandbox: Sandbox, tmp_path: Path, issued: list[str], logs: io.StringIO
) -> None:
    home = tmp_path / "state"
    env = {**sandbox_env(sandbox, home), WEBHOOK_SECRET_ENV: WEBHOOK_SECRET}
    first, second = sandbox.tenant_ids()[:2]
    app = App(
        env=env,
        open_url=lambda url: approve(url, company=first),
        pacers=PacerRegistry(),
        configure_logs=False,  # the `logs` fixture holds the handler
    )
    runner = CliRunner()
    outputs: dict[str, str | bytes] = {}

    def invoke(*args: str, code: int = 0) -> Result:
        result = runner.invoke(cli, list(args), obj=app, catch_exceptions=False)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        name = " ".join(args[:2])
        outputs[f"stdout of {name}"] = result.stdout
        outputs[f"stderr of {name}"] = result.stderr
        return result

    invoke("connect", "acme", "--json")
    invoke("check", "acme", "--json")
    invoke("connect", "svc", "--service-account", "--json")
    settings = settings_for(sandbox, home)
    with Runtime(settings=settings, store=open_store(settings, env)) as runtime:
        add_connected(runtime, sandbox, "soon", second, expires_in=30)  # its first request refreshes
        add_disconnected(runtime, sandbox, "lapsed", second)

    with webhook_receiver(Secret(WEBHOOK_SECRET)) as (url, box):
        invoke("run", "acme", "payment_received", "--sink", "webhook", "--sink-option", f"url={url}")
        outputs["webhook bodies"] = json.dumps(box.events)
        assert box.events and box.bad_signatures == 0
    invoke("run", "acme", "invoice_paid", "--json")  # stdout sink: events on stdout
    invoice = sandbox.invoice(first, 1)["DocumentNumber"]
    invoke(
        "act", "acme", "get_invoice", "--input", json.dumps({"invoice": {"document_number": str(invoice)}})
    )
    events = tmp_path / "events.jsonl"
    served = invoke("serve", "--once", "--json", "--sink", "file", "--sink-option", f"path={events}", code=3)
    reports = {r["tenant"]: r for r in json.loads(served.stdout)}
    assert reports["lapsed"]["paused"] and all(reports[t]["ok"] for t in ("acme", "svc", "soon"))
    invoke("tenants", "show", "acme", "--json")
    invoke("tenants", "show", "soon", "--json")
    invoke("tenants", "list")
    outputs["events file"] = events.read_text()
    outputs["log stream"] = logs.getvalue()
    outputs.update(_state_files(home))

    key = (home / "key").read_text().strip()
    secrets = [
        *issued,
        sandbox.client_secret,
        WEBHOOK_SECRET,
        key,
        "expired-access-token",
        "dead-refresh-token",
    ]
    # two connects, a service account, two seeded tenants, at least one refresh: tokens and codes
    assert len(issued) >= 8
    _assert_nowhere(secrets, outputs)

    records = _records(logs)
    refreshed = [r for r in records if r["message"].startswith("refreshed the Fortnox token of tenant")]
    assert refreshed and all(r["tenant"] == r["message"].rsplit(" ", 1)[1] for r in refreshed)
    http = [r for r in records if r["logger"] == "httpx"]
    assert http and all(r["tenant"] != "-" for r in http), [r for r in http if r["tenant"] == "-"][:3]
    # every line names its tenant but the state directory's own (key file created, database opened)
    unattributed = {r["logger"] for r in records if r["tenant"] == "-"}
    assert unattributed <= {"fortnox_connector.runtime.store.keys", "fortnox_connector.runtime.store.sqlite"}
    summaries = [r for r in records if r["logger"] == "fortnox_connector.runtime.jobs"]
    assert {(r["tenant"], r["trigger"]) for r in summaries} >= {
        (t, trigger) for t in ("acme", "svc", "soon") for trigger in ("payment_received", "invoice_paid")
    }
    for r in summaries:
        assert {"events", "skipped", "pages", "requests", "duration_s", "delivered", "status"} <= set(r)
    lapsed = [r for r in summaries if r["tenant"] == "lapsed"]
    assert lapsed and lapsed[0]["status"] == "paused" and lapsed[0]["level"] == "WARNING"


@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])  # the demo starts its own sandbox
def test_the_demo_never_shows_a_secret(
    tmp_path: Path, issued: list[str], logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "demo-state"  # the demo's temporary directory, kept to search its database
    kept.mkdir()
    monkeypatch.setattr(
        "fortnox_connector.runtime.demo.tempfile.TemporaryDirectory",
        lambda **_: contextlib.nullcontext(str(kept)),
    )
    result = CliRunner().invoke(cli, ["demo"], obj=App(configure_logs=False), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "demo summary" in result.stdout
    secrets = [*issued, "sandbox-secret", (kept / "key").read_text().strip()]
    assert len(issued) >= 3  # the code, the access token and the refresh token
    outputs: dict[str, str | bytes] = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "log stream": logs.getvalue(),
        **_state_files(kept),
    }
    _assert_nowhere(secrets, outputs)
    assert all(r["tenant"] == "demo" for r in _records(logs) if r["logger"] == "httpx")


@pytest.mark.sandbox(start=None, frozen_clock=False)
def test_pandium_runs_never_show_the_injected_token(
    sandbox: Sandbox,
    issued: list[str],
    logs: io.StringIO,  # `logs` restores the root logger afterwards
) -> None:
    company = sandbox.tenant_ids()[0]
    token = str(sandbox.issue_token(company)["access_token"])
    env = pandium_env(sandbox, token, FORTNOX_LOG_FORMAT="json", FORTNOX_LOG_LEVEL="DEBUG")
    outputs: dict[str, str | bytes] = {}
    for mode in ("init", "normal"):
        stdout, stderr = io.StringIO(), io.StringIO()
        code = run_pandium({**env, "PAN_CTX_RUN_MODE": mode}, stdout=stdout, stderr=stderr)
        assert code == 0, stderr.getvalue()
        outputs[f"{mode} stdout"], outputs[f"{mode} stderr"] = stdout.getvalue(), stderr.getvalue()
    assert json.loads(str(outputs["normal stdout"]))["payment_received"]["events"]
    logged = [json.loads(line) for line in str(outputs["normal stderr"]).splitlines()]
    summaries = {
        r["trigger"]: r for r in logged if r["logger"] == "fortnox_connector.pandium" and "trigger" in r
    }
    assert set(summaries) == {"payment_received", "invoice_paid"}  # one summary line per trigger
    assert all(
        {"events", "skipped_records", "pages", "requests", "duration_s"} <= set(r) for r in summaries.values()
    )
    _assert_nowhere([*issued, sandbox.client_secret], outputs)
    assert token in issued
