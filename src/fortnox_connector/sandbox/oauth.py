"""OAuth state of the sandbox: authorization codes, JWT-like access tokens, single-use refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

CODE_TTL = timedelta(minutes=10)
REFRESH_TTL = timedelta(days=45)


@dataclass
class Grant:
    tenant_id: int
    scopes: tuple[str, ...]
    client_id: str
    expires: datetime


class OAuthError(Exception):
    """An OAuth-style token-endpoint error; ``status`` and ``content_type`` mimic what Fortnox sends."""

    def __init__(self, error: str, description: str, status: int, content_type: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status
        self.content_type = content_type


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OAuthState:
    """Codes, access and refresh tokens, all guarded by one lock; times come from the business clock."""

    def __init__(self, token_ttl: int) -> None:
        self.lock = threading.Lock()
        self.token_ttl = token_ttl
        self._key = secrets.token_bytes(32)
        self.codes: dict[str, tuple[Grant, str | None]] = {}
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}

    def new_code(self, grant: Grant, redirect_uri: str | None) -> str:
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = (grant, redirect_uri)
        return code

    def take_code(self, code: str, redirect_uri: str | None, client_id: str, now: datetime) -> Grant:
        with self.lock:
            entry = self.codes.pop(code, None)
        if entry is None:
            raise OAuthError("invalid_grant", "Invalid authorization code", 400, "text/html")
        grant, registered = entry
        if grant.expires <= now:
            raise OAuthError("invalid_grant", "Authorization code has expired", 400, "text/html")
        if grant.client_id != client_id:
            raise OAuthError("invalid_grant", "Invalid authorization code", 400, "text/html")
        if registered is not None and redirect_uri is not None and registered != redirect_uri:
            raise OAuthError("invalid_grant", "Invalid redirect uri", 400, "text/html")
        return grant

    def issue(
        self, tenant_id: int, scopes: tuple[str, ...], client_id: str, now: datetime, refresh: bool
    ) -> dict[str, object]:
        """The token endpoint's answer: a JWT-like access token (claim ``tenantId``) and a refresh token."""
        exp = now + timedelta(seconds=self.token_ttl)
        claims = {
            "tenantId": tenant_id,
            "clientId": client_id,
            "scope": " ".join(scopes),
            "exp": int(exp.timestamp()),
            "iat": int(now.timestamp()),
            "jti": secrets.token_hex(8),
        }
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        access = f"{head}.{body}.{sig}"
        answer: dict[str, object] = {
            "access_token": access,
            "scope": " ".join(scopes),
            "expires_in": self.token_ttl,
            "token_type": "bearer",
        }
        with self.lock:
            self.access[access] = Grant(tenant_id, scopes, client_id, exp)
            if refresh:
                rt = secrets.token_hex(20)
                self.refresh[rt] = Grant(tenant_id, scopes, client_id, now + REFRESH_TTL)
                answer["refresh_token"] = rt
        return answer

    def take_refresh(self, token: str, client_id: str, now: datetime) -> Grant:
        """Single use: the refresh token dies whether or not the caller gets the new pair."""
        with self.lock:
            grant = self.refresh.pop(token, None)
        if grant is None or grant.expires <= now or grant.client_id != client_id:
            raise OAuthError("invalid_grant", "Invalid refresh token", 400, "text/html")
        return grant

    def lookup(self, token: str, now: datetime) -> Grant | None:
        with self.lock:
            grant = self.access.get(token)
        if grant is None or grant.expires <= now:
            return None
        return grant

    def revoke(self, token: str) -> bool:
        with self.lock:
            hit = self.refresh.pop(token, None) is not None
            hit = self.access.pop(token, None) is not None or hit
        return hit

    def revoke_tenant(self, tenant_id: int) -> int:
        """Forget every code, access and refresh token of ``tenant_id`` (the customer removed the app)."""
        with self.lock:
            gone = 0
            for table in (self.access, self.refresh):
                for token in [t for t, g in table.items() if g.tenant_id == tenant_id]:
                    del table[token]
                    gone += 1
            for code in [c for c, (g, _) in self.codes.items() if g.tenant_id == tenant_id]:
                del self.codes[code]
                gone += 1
        return gone

    def reset(self) -> None:
        with self.lock:
            self.codes.clear()
            self.access.clear()
            self.refresh.clear()
