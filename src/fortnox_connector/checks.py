"""The Fortnox connector's readiness check for one tenant: each scope and licence, the company, the clock.

Offered to hosts through the contract (``Connector.check``): a runtime's ``check`` command calls it with
the open session's context and the tenant's spec, knowing nothing of Fortnox. Each scope is probed by the
cheapest read that needs it (one item), so a missing scope (the token lacks it: reconnect granting it) is
told apart from a missing licence (the company lacks it: the customer adds it in Fortnox). The clock item
compares Fortnox's ``Date`` header (of the company's answer: no request of its own) with the host's clock:
token expiry is computed locally, and ``lastmodified`` windows assume the clocks agree to well under the
overlap.
"""

from __future__ import annotations

from collections.abc import Callable

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import CheckResult, TenantSpec
from fortnox_connector.declaration.loader import load_declaration
from fortnox_connector.errors import AuthError, ConnectorError
from fortnox_connector.fortnox import invoicing
from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.fortnox.errors import MissingLicence, MissingScope

MAX_SKEW_S = 60.0  # the host's clock may be this far from Fortnox's

PROBES: dict[str, Callable[[FortnoxClient], object]] = {
    "companyinformation": lambda c: c.company_information(),
    "invoice": lambda c: c.list_invoices(limit=1),
    "payment": lambda c: c.list_invoice_payments(limit=1),
    "settings": lambda c: c.modes_of_payment(),
    "customer": invoicing.probe_customers,
}


def needed_by() -> dict[str, str]:
    """Per scope, `` (needed by a, b)``: the declared actions needing it, so a missing one names its cost."""
    needs: dict[str, list[str]] = {}
    for action in load_declaration().actions:
        for scope in getattr(action, "scopes", ()):
            needs.setdefault(scope, []).append(action.name)
    return {scope: f" (needed by {', '.join(names)})" for scope, names in needs.items()}


def check(ctx: TenantContext, tenant: TenantSpec) -> list[CheckResult]:
    """One result per scope, then the company (its DatabaseNumber against the tenant's ``tenant_id``).

    When Fortnox refuses the token itself (e.g. ``invalid_grant`` on the refresh a 401 led to), the one
    result is a failed ``auth``: no scope can be told then."""
    results: list[CheckResult] = []
    needs = needed_by()
    for scope in PROBES:
        try:
            results.append(_probe(ctx.client, scope, needs.get(scope, "")))
        except AuthError as exc:
            return [CheckResult("auth", False, exc.message, exc.hint)]
    company = _company(ctx.client, tenant)
    return [*results, *([company] if company is not None else []), _clock(ctx.client, tenant)]


def _probe(client: FortnoxClient, scope: str, needs: str) -> CheckResult:
    """The scope's probe; an ``AuthError`` (the token refused) propagates."""
    try:
        PROBES[scope](client)
    except AuthError:
        raise
    except MissingScope as exc:
        return CheckResult(f"scope {scope}", False, "not granted" + needs, exc.hint)
    except MissingLicence as exc:
        return CheckResult(f"licence {scope}", False, "the company has no licence" + needs, exc.hint)
    except ConnectorError as exc:
        return CheckResult(f"scope {scope}", False, exc.message, exc.hint)
    return CheckResult(f"scope {scope}", True, "granted and licensed")


def _company(client: FortnoxClient, tenant: TenantSpec) -> CheckResult | None:
    try:
        info = client.company_information()
    except ConnectorError:
        return None  # already reported by the companyinformation probe
    expected = tenant.secrets.get("tenant_id")
    same = expected in (None, "", str(info.database_number))
    hint = (
        None
        if same
        else "the token belongs to another company than before: reconnect with "
        f"`fortnox-connector connect {tenant.id}` and pick DatabaseNumber {expected}"
    )
    return CheckResult("company", same, f"{info.company_name} (DatabaseNumber {info.database_number})", hint)


def _clock(client: FortnoxClient, tenant: TenantSpec) -> CheckResult:
    """The host's clock against Fortnox's, by the ``Date`` header of Fortnox's latest answer."""
    theirs = client.server_date()
    if theirs is None:
        return CheckResult("clock", False, "no Date header from Fortnox to compare with")
    skew = (tenant.clock() - theirs).total_seconds()
    ok = abs(skew) <= MAX_SKEW_S
    return CheckResult(
        "clock",
        ok,
        f"ours is {skew:+.0f} s from Fortnox's",
        None if ok else "synchronise this machine's clock (NTP): token expiry and change windows rely on it",
    )
