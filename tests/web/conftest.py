"""Fixtures of the web app's tests: a runtime on the sandbox, the app served on loopback, headless Chromium.

Chromium is Debian's (``make test`` installs the package when it is missing), driven by Playwright with
``executable_path``: nothing is downloaded. Screenshots go to ``artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from fortnox_connector.runtime.catalog import load_catalog
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.scheduler import Scheduler
from fortnox_connector.runtime.web import WebSettings, create_app
from fortnox_connector.runtime.web.app import WebApp
from fortnox_connector.runtime.web.server import WebServer
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.runtime.runtime_support import ListSink, make_runtime

OPERATOR_TOKEN = "operator-token-for-tests"
SIGNING_KEY = "web-signing-key-for-tests"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-background-networking",  # no calls home: this machine has no network beyond loopback
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Web:
    runtime: Runtime
    server: WebServer
    app: WebApp
    sink: ListSink
    scheduler: Scheduler
    ran: threading.Event  # set when a "run now" the app started has finished

    @property
    def url(self) -> str:
        return self.server.url


def web_settings(url: str, *, operator_token: str | None = OPERATOR_TOKEN) -> WebSettings:
    return WebSettings(
        public_url=url,
        signing_key=Secret(SIGNING_KEY),
        operator_token=Secret(operator_token) if operator_token else None,
    )


@pytest.fixture
def web(sandbox: Sandbox, tmp_path: Path) -> Iterator[Web]:
    runtime = make_runtime(sandbox, tmp_path / "home", load_catalog())
    sink = ListSink()
    scheduler = Scheduler(runtime, lambda: sink)
    ran = threading.Event()

    def run_now(tenant: str) -> None:
        try:
            scheduler.run_tenant(tenant)
        finally:
            ran.set()

    server = WebServer("127.0.0.1", 0)
    asgi = create_app(runtime, web_settings(server.url), run_now=run_now)
    with server.start(asgi), runtime:
        yield Web(runtime, server, asgi.state.web, sink, scheduler, ran)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for tests/web, stopped after its last test: Playwright's sync API holds an asyncio loop
    in the main thread while it runs, and a later test's ``asyncio.run`` would find it running."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is missing: run `make test` as root, or `apt-get install -y chromium`")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def screenshot_path(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")
