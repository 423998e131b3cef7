"""The /_sandbox/ control API (JSON): tenants, data, clock, faults, stats, reset. See docs/sandbox.md."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .feed_control import feed_fault, feed_state
from .oauth_routes import Reply
from .store import SCOPES

if TYPE_CHECKING:
    from .server import Sandbox

_TENANT = re.compile(r"^/_sandbox/tenants/(?P<t>\d+)(?P<rest>/.*)?$")


def _ok(body: object, status: int = 200) -> Reply:
    return Reply(
        status, json.dumps(body, ensure_ascii=False, default=str).encode(), "application/json; charset=utf-8"
    )


def _bad(status: int, message: str) -> Reply:
    return _ok({"error": message}, status)


class Control:
    """Routes control requests to the in-process Sandbox methods."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb

    def handle(self, method: str, path: str, query: dict[str, str], raw: bytes) -> Reply:
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            return _bad(400, "body is not JSON")
        if not isinstance(body, dict):
            return _bad(400, "body must be a JSON object")
        try:
            return self._route(method, path, body)
        except ApiError as err:
            return _bad(400, f"Fortnox rule {err.code}: {err.message or ''}".strip())
        except (KeyError, ValueError, TypeError) as err:
            return _bad(400, str(err))

    def _route(self, method: str, path: str, body: dict[str, Any]) -> Reply:
        """Dispatch by path (each handler checks its methods); tenant routes by pattern."""
        handler = _ROUTES.get(path)
        if handler is not None:
            reply = handler(self, method, body)
            if reply is not None:
                return reply
        m = _TENANT.match(path)
        if m is not None and method == "POST":
            return self._tenant(int(m.group("t")), m.group("rest") or "", body)
        return _bad(404, f"no control route {method} {path}")

    def _tenants(self, method: str, body: dict[str, Any]) -> Reply | None:
        if method != "GET":
            return None
        with self.sb.store.lock:
            return _ok(
                [
                    {
                        "id": t.id,
                        "name": t.name,
                        "licences": sorted(t.licences),
                        "service_consent": t.service_consent,
                        "invoices": len(t.invoices),
                        "payments": len(t.payments),
                    }
                    for t in self.sb.store.tenants.values()
                ]
            )

    def _clock(self, method: str, body: dict[str, Any]) -> Reply | None:
        sb = self.sb
        if method == "POST":
            if "set" in body:
                sb.set_clock(datetime.fromisoformat(str(body["set"])), bool(body.get("frozen", True)))
            if "advance" in body:
                sb.advance(float(body["advance"]))
        return _ok({"now": sb.now().isoformat()})

    def _reset(self, method: str, body: dict[str, Any]) -> Reply | None:
        if method != "POST":
            return None
        self.sb.reset()
        return _ok({"reset": True})

    def _faults(self, method: str, body: dict[str, Any]) -> Reply | None:
        sb = self.sb
        if method == "POST":
            sb.inject_fault(
                str(body["kind"]),
                body.get("count"),
                body.get("fraction"),
                str(body.get("path_prefix", "/3/")),
                body.get("method"),
                float(body.get("delay", 1.0)),
            )
        elif method == "DELETE":
            sb.clear_faults()
        return _ok({"faults": sb.faults.pending()})

    def _stats(self, method: str, body: dict[str, Any]) -> Reply | None:
        return _ok(self.sb.stats.as_dict()) if method == "GET" else None

    def _feed(self, method: str, body: dict[str, Any]) -> Reply | None:
        return _ok(feed_state(self.sb)) if method == "GET" else None

    def _feed_faults(self, method: str, body: dict[str, Any]) -> Reply | None:
        return _ok(feed_fault(self.sb, body)) if method == "POST" else None

    def _tenant(self, tenant_id: int, rest: str, body: dict[str, Any]) -> Reply:
        sb = self.sb
        if rest == "/invoices":
            return _ok(sb.add_invoice(tenant_id, **body), 201)
        if rest == "/payments":
            fields = dict(body)
            return _ok(sb.add_payment(tenant_id, fields.pop("InvoiceNumber"), **fields), 201)
        book = re.match(r"^/payments/(\d+)/book$", rest)
        if book:
            return _ok(sb.book_payment(tenant_id, int(book.group(1))))
        delete = re.match(r"^/payments/(\d+)/delete$", rest)
        if delete:
            sb.delete_payment(tenant_id, int(delete.group(1)))
            return _ok({"deleted": delete.group(1)})
        if rest == "/tokens":
            return _ok(sb.issue_token(tenant_id, tuple(body.get("scopes", ())) or SCOPES))
        if rest == "/seed":
            sb.seed_payments(tenant_id, int(body.get("payments", 0)))
            return _ok({"seeded": int(body.get("payments", 0))})
        if rest == "/revoke":
            return _ok({"revoked": sb.revoke_consent(tenant_id)})
        if rest == "/licences":
            sb.set_licences(tenant_id, list(body.get("scopes", [])))
            return _ok({"licences": sorted(body.get("scopes", []))})
        return _bad(404, f"no control route POST /_sandbox/tenants/{tenant_id}{rest}")


_ROUTES: dict[str, Callable[[Control, str, dict[str, Any]], Reply | None]] = {
    "/_sandbox/tenants": Control._tenants,
    "/_sandbox/clock": Control._clock,
    "/_sandbox/reset": Control._reset,
    "/_sandbox/faults": Control._faults,
    "/_sandbox/stats": Control._stats,
    "/_sandbox/feed": Control._feed,
    "/_sandbox/feed/faults": Control._feed_faults,
}
