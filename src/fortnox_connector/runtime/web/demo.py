"""``fortnox-connector web --demo``: the operator's web app on a local sandbox, with tenants to look at.

It starts the Fortnox sandbox on loopback with three companies, keeps the runtime's state in a temporary
directory, connects two tenants through the real OAuth flow (a scripted browser approves the consent page),
adds a third whose customer then removes the integration in Fortnox, runs every tenant once, and serves the
web app with a fresh operator token. It prints the operator's address and token and a connect link for a
new tenant that a person can open in a browser: the sandbox's consent page works there too.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.console import Console

from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.runtime.browser import approve
from fortnox_connector.runtime.connect import connect
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.scheduler import Scheduler
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.runtime.web.app import WebApp, create_app
from fortnox_connector.runtime.web.server import WebServer
from fortnox_connector.runtime.web.settings import WebSettings
from fortnox_connector.secrets import Secret

TENANTS = (("acme", "Acme Åkeri AB"), ("bolaget", "Bolaget i Göteborg AB"), ("lapsed", "Gamla Kunden AB"))


@dataclass(frozen=True, slots=True)
class WebDemo:
    url: str
    operator_token: Secret
    new_tenant_link: str
    app: WebApp


class _Discard:
    def deliver(self, events: object) -> None:
        return None

    def close(self) -> None:
        return None


@contextmanager
def web_demo(host: str = "127.0.0.1", port: int = 8080) -> Iterator[WebDemo]:
    """The sandbox, a runtime with three tenants run once, and the web app on ``host:port``."""
    from fortnox_connector.sandbox import Sandbox, SandboxOptions  # the demo is the sandbox's only user

    with (
        tempfile.TemporaryDirectory(prefix="fortnox-connector-web-") as home,
        Sandbox.start(SandboxOptions(seed=7, tenants=3, rate_limit=True), host="127.0.0.1", port=0) as sb,
    ):
        settings = RuntimeSettings(
            home=Path(home),
            client_id=sb.client_id,
            client_secret=Secret(sb.client_secret),
            api_url=sb.base_url,
            auth_url=sb.base_url,
        )
        with Runtime.open(settings) as runtime:
            runtime.pacers = PacerRegistry()
            for (tenant, name), company in zip(TENANTS, sb.tenant_ids(), strict=True):
                runtime.store.add_tenant(tenant, display_name=name, auth_mode="authorization_code")
                runtime.store.save_config(tenant, {"backfill_days": 365})
                connect(runtime, tenant, open_url=partial(approve, company=company), timeout=30)
            sb.revoke_consent(sb.tenant_ids()[2])
            runtime.store.delete_token("lapsed")  # its next refresh would fail: show it as it will look
            runtime.store.pause_tenant("lapsed", _revoked("lapsed"))
            scheduler = Scheduler(runtime, _Discard)
            scheduler.run_all()
            token = Secret(secrets.token_urlsafe(18))
            with WebServer(host, port) as server:
                web = WebSettings(server.url, Secret(secrets.token_hex(32)), token)
                app = create_app(runtime, web, run_now=scheduler.run_tenant)
                server.start(app)
                demo: WebApp = app.state.web
                yield WebDemo(server.url, token, demo.connect_link("nykund"), demo)


def _revoked(tenant: str) -> str:
    return (
        f"tenant {tenant}: Fortnox refused the refresh_token request with HTTP 400: invalid_grant. "
        "Fix: the customer must reconnect the Fortnox integration (send them the reconnect link)."
    )


def run_web_demo(console: Console, host: str, port: int, wait: Callable[[], object]) -> None:
    with web_demo(host, port) as demo:
        console.print(f"Operator pages: {demo.url}/tenants  (user [bold]operator[/], password below)")
        console.print(demo.operator_token.reveal(), markup=False, highlight=False)
        console.print(f"Connect a new tenant in a browser: {demo.new_tenant_link}", markup=False)
        console.print("Ctrl-C stops it and removes the demo's state.")
        wait()
