"""The /_sandbox/ control API (JSON): tenants, data, clock, faults, stats, reset. See docs/sandbox.md."""

from __future__ import annotations

import json
import re
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
        sb = self.sb
        if path == "/_sandbox/tenants" and method == "GET":
            with sb.store.lock:
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
                        for t in sb.store.tenants.values()
                    ]
                )
        if path == "/_sandbox/clock":
            if method == "POST":
                if "set" in body:
                    sb.set_clock(datetime.fromisoformat(str(body["set"])), bool(body.get("frozen", True)))
                if "advance" in body:
                    sb.advance(float(body["advance"]))
            return _ok({"now": sb.now().isoformat()})
        if path == "/_sandbox/reset" and method == "POST":
            sb.reset()
            return _ok({"reset": True})
        if path == "/_sandbox/faults":
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
        if path == "/_sandbox/stats" and method == "GET":
            return _ok(sb.stats.as_dict())
        if path == "/_sandbox/feed" and method == "GET":
            return _ok(feed_state(sb))
        if path == "/_sandbox/feed/faults" and method == "POST":
            return _ok(feed_fault(sb, body))
        m = _TENANT.match(path)
        if m is not None and method == "POST":
            return self._tenant(int(m.group("t")), m.group("rest") or "", body)
        return _bad(404, f"no control route {method} {path}")

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
