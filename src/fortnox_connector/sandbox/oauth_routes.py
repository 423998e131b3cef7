"""The /oauth-v1/ endpoints: authorize page (with a headless path), token, revoke."""

from __future__ import annotations

import base64
import binascii
import html
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from .oauth import CODE_TTL, Grant, OAuthError
from .store import SCOPES

if TYPE_CHECKING:
    from .server import Sandbox


class Reply:
    """A raw HTTP answer: status, headers, body bytes."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = {"Content-Type": content_type, **(headers or {})}


def _json(status: int, body: object, content_type: str = "application/json") -> Reply:
    return Reply(status, json.dumps(body).encode(), content_type)


def _oauth_error(err: OAuthError) -> Reply:
    return _json(err.status, {"error": err.error, "error_description": err.description}, err.content_type)


def _page(status: int, title: str, text: str) -> Reply:
    t = html.escape(title)
    body = f"<!doctype html><html><head><title>{t}</title></head>"
    body += f"<body><h1>{t}</h1><p>{html.escape(text)}</p></body></html>"
    return Reply(status, body.encode(), "text/html; charset=utf-8")


def _redirect(uri: str, params: dict[str, str]) -> Reply:
    sep = "&" if "?" in uri else "?"
    return Reply(302, b"", "text/plain", {"Location": uri + sep + urlencode(params)})


class OAuthRoutes:
    """Serves the authorize page, the token endpoint and revoke against one Sandbox."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb

    def authorize(self, method: str, params: dict[str, str]) -> Reply:
        sb = self.sb
        opts = sb.options
        refused = self._refused(params)
        if refused is not None:
            return refused
        state = params["state"]
        redirect_uri = params.get("redirect_uri") or opts.redirect_uri or ""
        scopes = tuple(s for s in params.get("scope", " ".join(SCOPES)).split() if s)
        tenants = sb.tenant_ids()
        try:
            tenant_id = int(params.get("tenant", tenants[0]))
        except ValueError:
            return _page(400, "Ogiltig begäran", "tenant must be a number.")
        if tenant_id not in tenants:
            return _page(400, "Ogiltig begäran", f"no tenant {tenant_id} in this sandbox.")
        if method == "GET" and params.get("auto") not in ("1", "true"):
            return self._consent_page(params, scopes, tenants)
        if params.get("decision", "allow") != "allow":
            return _redirect(redirect_uri, {"error": "access_denied", "state": state})
        with sb.store.lock:
            tenant = sb.store.tenant(tenant_id)
            missing = [s for s in scopes if s not in tenant.licences]
            if not missing and params.get("account_type") == "service":
                tenant.service_consent = True
                tenant.service_scopes = scopes
        if missing:
            return _redirect(
                redirect_uri,
                {
                    "error": "error_missing_license",
                    "error_description": f"missing licence for {' '.join(missing)}",
                    "state": state,
                },
            )
        grant = Grant(tenant_id, scopes, opts.client_id, sb.now() + CODE_TTL)
        code = sb.oauth.new_code(grant, params.get("redirect_uri"))
        return _redirect(redirect_uri, {"code": code, "state": state})

    def _refused(self, params: dict[str, str]) -> Reply | None:
        """The error page for a request the authorize endpoint refuses before asking (None: none)."""
        opts = self.sb.options
        if params.get("client_id") != opts.client_id:
            return _page(400, "Ogiltig klient", "client_id is unknown to this sandbox.")
        if params.get("response_type", "code") != "code":
            return _page(400, "Ogiltig begäran", "response_type must be 'code'.")
        if not params.get("state"):
            return _page(400, "Ogiltig begäran", "state is required.")
        redirect_uri = params.get("redirect_uri") or opts.redirect_uri
        if not redirect_uri:
            return _page(400, "Ogiltig begäran", "redirect_uri is required (none is registered).")
        if opts.redirect_uri and redirect_uri != opts.redirect_uri:
            return _page(400, "Ogiltig begäran", "redirect_uri does not match the registered one.")
        return None

    def _consent_page(self, params: dict[str, str], scopes: tuple[str, ...], tenants: list[int]) -> Reply:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k not in ("tenant", "decision")
        )
        options = "".join(f'<option value="{t}">{t}</option>' for t in tenants)
        body = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<title>Fortnox sandbox - godkänn</title></head><body>"
            "<h1>Fortnox sandbox</h1>"
            f"<p>The integration asks for: {html.escape(' '.join(scopes))}</p>"
            '<form id="consent" method="post" action="/oauth-v1/auth">'
            f'{hidden}<label>Tenant <select name="tenant">{options}</select></label> '
            '<button type="submit" name="decision" value="allow">Godkänn</button> '
            '<button type="submit" name="decision" value="deny">Avbryt</button>'
            "</form></body></html>"
        )
        return Reply(200, body.encode(), "text/html; charset=utf-8")

    def _client(self, headers: Mapping[str, str]) -> str | None:
        """The client id if Basic credentials are right, else None."""
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        try:
            raw = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        cid, _, secret = raw.partition(":")
        opts = self.sb.options
        if cid == opts.client_id and secret == opts.client_secret:
            return cid
        return None

    def token(self, headers: Mapping[str, str], form: dict[str, str]) -> Reply:
        sb = self.sb
        sb.count_token_request()
        grant_type = form.get("grant_type", "")
        client = self._client(headers)
        now = sb.now()
        if client is None:
            status, ctype = (400, "text/html") if grant_type == "client_credentials" else (401, "text/plain")
            return _json(
                status,
                {"error": "invalid_client", "error_description": "The client credentials are invalid"},
                ctype,
            )
        try:
            if grant_type == "authorization_code":
                grant = sb.oauth.take_code(form.get("code", ""), form.get("redirect_uri"), client, now)
                return _json(200, sb.oauth.issue(grant.tenant_id, grant.scopes, client, now, refresh=True))
            if grant_type == "refresh_token":
                grant = sb.oauth.take_refresh(form.get("refresh_token", ""), client, now)
                return _json(200, sb.oauth.issue(grant.tenant_id, grant.scopes, client, now, refresh=True))
            if grant_type == "client_credentials":
                return self._client_credentials(headers, form, client, now)
        except OAuthError as err:
            return _oauth_error(err)
        return _json(
            400,
            {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"},
            "text/html",
        )

    def _client_credentials(
        self, headers: Mapping[str, str], form: dict[str, str], client: str, now: datetime
    ) -> Reply:
        sb = self.sb
        raw = headers.get("tenantid", "").strip()
        bad = OAuthError("invalid_request", "Invalid or missing TenantId", 400, "text/html")
        if not raw.isdigit():
            return _oauth_error(bad)
        with sb.store.lock:
            tenant = sb.store.tenants.get(int(raw))
            if tenant is None:
                return _oauth_error(bad)
            if not tenant.service_consent:
                return _oauth_error(
                    OAuthError(
                        "invalid_grant", "The tenant has not consented to a service account", 400, "text/html"
                    )
                )
            allowed = tenant.service_scopes
        wanted = tuple(form.get("scope", "").split()) or allowed
        if any(s not in allowed for s in wanted):
            return _oauth_error(
                OAuthError("invalid_scope", "Requested scope exceeds the consent", 400, "text/html")
            )
        return _json(200, sb.oauth.issue(int(raw), wanted, client, now, refresh=False))

    def revoke(self, headers: Mapping[str, str], form: dict[str, str]) -> Reply:
        if self._client(headers) is None:
            return _json(
                401,
                {"error": "invalid_client", "error_description": "The client credentials are invalid"},
                "text/plain",
            )
        self.sb.oauth.revoke(form.get("token", ""))
        return _json(200, {"revoked": True})
