"""A tiny emulation of Fortnox's OAuth token endpoint, served through httpx.MockTransport or loopback HTTP.

It checks HTTP Basic client auth, rotates single-use refresh tokens (a reused one gets 400 invalid_grant
served as text/html, as Fortnox does), answers invalid_client like Fortnox (401 text/plain for a refresh,
400 text/html for client credentials), needs ``TenantId`` for client credentials and records every request.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx

CLIENT_ID = "app-client-id"
CLIENT_SECRET = "app-client-secret-XYZ"

Response = tuple[int, str, bytes]


@dataclass
class TokenRequest:
    grant_type: str
    form: dict[str, str]
    tenant_id: str | None


@dataclass
class FakeFortnoxAuth:
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    expires_in: int = 3600
    scope: str = "invoice payment companyinformation"
    service_tenants: set[str] = field(default_factory=set)
    requests: list[TokenRequest] = field(default_factory=list)
    before_token: Callable[[TokenRequest], None] | None = None  # runs before answering (to hold a request)
    _refresh: dict[str, str] = field(default_factory=dict)  # live refresh token -> tenant
    _used: set[str] = field(default_factory=set)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- scenario setup -----------------------------------------------------------------------
    def issue_refresh_token(self, tenant: str) -> str:
        with self._lock:
            value = f"rt-{tenant}-{next(self._ids)}"
            self._refresh[value] = tenant
            return value

    def issue_code(self, tenant: str) -> str:
        with self._lock:
            value = f"code-{next(self._ids)}"
            self._refresh[value] = tenant  # codes are single use too
            return value

    @property
    def token_requests(self) -> list[TokenRequest]:
        return [r for r in self.requests if r.grant_type != "revoke"]

    def refresh_tokens_presented(self) -> list[str]:
        return [r.form["refresh_token"] for r in self.requests if r.grant_type == "refresh_token"]

    # -- the endpoint ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        form = dict(parse_qsl(body.decode()))
        lower = {k.lower(): v for k, v in headers.items()}
        grant = "revoke" if path == "/oauth-v1/revoke" else form.get("grant_type", "")
        request = TokenRequest(grant, form, lower.get("tenantid"))
        with self._lock:
            self.requests.append(request)
        if method != "POST" or path not in ("/oauth-v1/token", "/oauth-v1/revoke"):
            return 404, "text/html", b"<html>not found</html>"
        if self.before_token is not None:
            self.before_token(request)
        if not self._client_ok(lower.get("authorization", "")):
            if grant == "client_credentials":
                return _oauth_error(400, "text/html", "invalid_client", "The client credentials are invalid")
            return _oauth_error(401, "text/plain", "invalid_client", "The client credentials are invalid")
        if grant == "revoke":
            with self._lock:
                self._refresh.pop(form.get("token", ""), None)
            return 200, "application/json", b'{"revoked":true}'
        if grant in ("refresh_token", "authorization_code"):
            presented = form.get("refresh_token" if grant == "refresh_token" else "code", "")
            with self._lock:
                tenant = self._refresh.pop(presented, None)
                self._used.add(presented)
            if tenant is None:
                return _oauth_error(400, "text/html", "invalid_grant", "Invalid refresh token")
            return self._token(tenant, with_refresh=True)
        if grant == "client_credentials":
            tenant_id = request.tenant_id
            if not tenant_id or tenant_id not in self.service_tenants:
                return _oauth_error(400, "text/html", "invalid_grant", "No consent for tenant")
            return self._token(tenant_id, with_refresh=False)
        return _oauth_error(400, "text/html", "unsupported_grant_type", "Unsupported grant type")

    def _client_ok(self, authorization: str) -> bool:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return authorization == f"Basic {expected}"

    def _token(self, tenant: str, *, with_refresh: bool) -> Response:
        with self._lock:
            n = next(self._ids)
        body: dict[str, Any] = {
            "access_token": f"at-{tenant}-{n}",
            "scope": self.scope,
            "expires_in": self.expires_in,
            "token_type": "bearer",
        }
        if with_refresh:
            body["refresh_token"] = self.issue_refresh_token(tenant)
        return 200, "text/html", json.dumps(body).encode()  # Fortnox's content type is not to be trusted

    # -- adapters -----------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        def respond(request: httpx.Request) -> httpx.Response:
            status, ctype, body = self.handle(
                request.method, request.url.path, dict(request.headers), request.read()
            )
            return httpx.Response(status, headers={"Content-Type": ctype}, content=body)

        return httpx.MockTransport(respond)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on 127.0.0.1 (port chosen by the OS); yields the base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, ctype, payload = fake.handle("POST", self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def _oauth_error(status: int, ctype: str, code: str, description: str) -> Response:
    return status, ctype, json.dumps({"error": code, "error_description": description}).encode()
