"""The operator's web app (Starlette): customers connect Fortnox in a browser; operators watch every tenant.

Routes: ``/connect/{tenant}?link=…`` (a signed, expiring link the host sends its customer) → Fortnox's
consent → ``/oauth/callback`` → the company shown back; ``/tenants`` and ``/tenants/{id}`` for operators
(behind ``FORTNOX_CONNECTOR_WEB_TOKEN``); ``/metrics`` (Prometheus); ``/healthz`` and ``/readyz``.
Plain HTML from Jinja2 templates; nothing needs JavaScript. Every figure is read from the runtime's store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from fortnox_connector.errors import ConnectorError
from fortnox_connector.runtime.connect import complete_consent, consent_url
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.web.auth import operator_denial
from fortnox_connector.runtime.web.format import register_filters
from fortnox_connector.runtime.web.health import all_health, tenant_health
from fortnox_connector.runtime.web.links import ConnectGrant, LinkError, Signer
from fortnox_connector.runtime.web.metrics import registry_for
from fortnox_connector.runtime.web.settings import WebSettings
from fortnox_connector.secrets import Secret

log = logging.getLogger(__name__)
STATE_COOKIE = "fortnox_connect"
RunNow = Callable[[str], object]


class WebApp:
    """The routes' shared parts: the runtime, the settings, the signer, the templates."""

    def __init__(self, runtime: Runtime, settings: WebSettings, *, run_now: RunNow | None = None) -> None:
        self.runtime = runtime
        self.settings = settings
        self.signer = Signer(settings.signing_key.reveal())
        self.run_now = run_now
        self.templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
        register_filters(self.templates.env)
        self.registry = registry_for(runtime.store, runtime.catalog.trigger_names, runtime.now)

    def connect_link(self, tenant: str, *, service_account: bool = False) -> str:
        token = self.signer.connect_token(ConnectGrant(tenant, service_account))
        return f"{self.settings.public_url}/connect/{quote(tenant, safe='')}?link={token}"

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def problem(self, request: Request, status: int, title: str, text: str, hint: str = "") -> Response:
        return self.page(request, "message.html", status, title=title, text=text, hint=hint)

    def now(self) -> datetime:
        return self.runtime.now()

    # -- customers ------------------------------------------------------------------------------------------
    def connect(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        try:
            grant = self.signer.open_connect_token(
                request.query_params.get("link", ""), tenant, self.settings.link_max_age_s
            )
        except LinkError as exc:
            text = (
                "This connect link has expired."
                if str(exc) == "expired"
                else "This connect link is not valid."
            )
            return self.problem(
                request, 403, "Link not valid", text, "Ask for a new link to connect Fortnox."
            )
        state, cookie = self.signer.new_state(grant)
        try:
            url = consent_url(
                self.runtime,
                tenant,
                state,
                redirect_uri=self.settings.redirect_uri,
                service_account=grant.service_account,
            )
        except ConnectorError as exc:
            return self.problem(request, 500, "Cannot connect now", exc.message, exc.hint or "")
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            STATE_COOKIE,
            cookie,
            max_age=600,
            path="/oauth",
            httponly=True,
            samesite="lax",
            secure=self.settings.secure_cookies,
        )
        return response

    def callback(self, request: Request) -> Response:
        q = request.query_params
        try:
            grant = self.signer.check_state(request.cookies.get(STATE_COOKIE), q.get("state"))
        except LinkError:
            return self.problem(
                request,
                400,
                "Not connected",
                "This answer from Fortnox does not belong to a connect started in this browser, or it came"
                " too late.",
                "Open your connect link again.",
            )
        response = self._finish(request, grant, q.get("code"), q.get("error"), q.get("error_description"))
        response.delete_cookie(STATE_COOKIE, path="/oauth")
        return response

    def _finish(
        self, request: Request, grant: ConnectGrant, code: str | None, error: str | None, detail: str | None
    ) -> Response:
        if error or not code:
            hint = "Open your connect link again and approve the integration."
            if error == "error_missing_license":
                hint = "The company lacks a Fortnox licence the integration needs: add it, then retry."
            reason = (error or "no code") + (f": {detail}" if detail else "")
            text = f"Fortnox did not grant access ({reason})."
            return self.problem(request, 400, "Not connected", text, hint)
        try:
            connected = complete_consent(
                self.runtime,
                grant.tenant,
                Secret(code),
                redirect_uri=self.settings.redirect_uri,
                service_account=grant.service_account,
            )
        except ConnectorError as exc:
            log.warning("connect of tenant %s failed: %s", grant.tenant, exc, extra={"tenant": grant.tenant})
            return self.problem(request, 400, "Not connected", exc.message, exc.hint or "")
        return self.page(request, "connected.html", connected=connected)

    # -- operators ------------------------------------------------------------------------------------------
    def tenants(self, request: Request) -> Response:
        if (denied := operator_denial(request, self.settings)) is not None:
            return denied
        health = all_health(self.runtime.store, self.runtime.catalog.trigger_names(), self.now())
        return self.page(request, "tenants.html", tenants=health, now=self.now())

    def tenant(self, request: Request) -> Response:
        if (denied := operator_denial(request, self.settings)) is not None:
            return denied
        tenant = request.path_params["tenant"]
        record = self.runtime.store.get_tenant(tenant)
        if record is None:
            return self.problem(request, 404, "No such tenant", f"There is no tenant {tenant}.")
        triggers = self.runtime.catalog.trigger_names()
        store = self.runtime.store
        return self.page(
            request,
            "tenant.html",
            h=tenant_health(store, record, triggers, self.now()),
            runs=store.list_runs(tenant, limit=50),
            cursors={t: store.load_cursor(tenant, t) for t in triggers},
            outbox={t: store.pending(tenant, t, limit=20) for t in triggers},
            link=self.connect_link(tenant, service_account=record.auth_mode == "client_credentials"),
            csrf=self.signer.csrf_token(),
            can_run=self.run_now is not None,
            notice=request.query_params.get("notice", ""),
            now=self.now(),
        )

    async def act(self, request: Request) -> Response:
        if (denied := operator_denial(request, self.settings)) is not None:
            return denied
        tenant, what = request.path_params["tenant"], request.path_params["what"]
        form = await request.form()
        try:
            self.signer.check_csrf(str(form.get("csrf", "")))
        except LinkError:
            return self.problem(request, 403, "Refused", "The form is stale or forged.", "Reload the page.")
        store = self.runtime.store
        if store.get_tenant(tenant) is None:
            return self.problem(request, 404, "No such tenant", f"There is no tenant {tenant}.")
        task = None
        if what == "pause":
            store.pause_tenant(tenant, "paused by an operator")
            notice = "Paused."
        elif what == "resume":
            store.resume_tenant(tenant)
            notice = "Resumed."
        elif what == "run" and self.run_now is not None:
            task = BackgroundTask(self.run_now, tenant)
            notice = "Run started: reload to see it in the history."
        else:
            return self.problem(request, 404, "Not found", "No such operation.")
        target = f"/tenants/{quote(tenant, safe='')}?notice={quote(notice)}"
        return RedirectResponse(target, status_code=303, background=task)

    def metrics(self, request: Request) -> Response:
        if (denied := operator_denial(request, self.settings)) is not None:
            return denied
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    # -- orchestrators --------------------------------------------------------------------------------------
    def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    def readyz(self, request: Request) -> Response:
        try:
            self.runtime.store.list_tenants()
        except Exception as exc:  # the store is the one thing this app needs
            log.warning("not ready: the store cannot be read (%s)", type(exc).__name__)
            return PlainTextResponse("store unavailable", status_code=503)
        return PlainTextResponse("ready")


def create_app(runtime: Runtime, settings: WebSettings, *, run_now: RunNow | None = None) -> Starlette:
    """The ASGI app; ``run_now(tenant)`` runs a tenant's triggers (the "run now" button; None hides it)."""
    web = WebApp(runtime, settings, run_now=run_now)
    app = Starlette(
        routes=[
            Route("/", lambda request: RedirectResponse("/tenants", status_code=303)),
            Route("/connect/{tenant}", web.connect),
            Route("/oauth/callback", web.callback),
            Route("/tenants", web.tenants),
            Route("/tenants/{tenant}", web.tenant),
            Route("/tenants/{tenant}/{what}", web.act, methods=["POST"]),
            Route("/metrics", web.metrics),
            Route("/healthz", web.healthz),
            Route("/readyz", web.readyz),
        ]
    )
    app.state.web = web
    return app
