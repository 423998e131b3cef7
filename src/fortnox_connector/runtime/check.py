"""``check TENANT``: is the tenant ready to run? Auth, each scope and licence, the company, the clock.

Each scope is probed by the cheapest read that needs it (one item), so a missing scope (the token lacks it:
reconnect granting it) is told apart from a missing licence (the company lacks it: the customer adds it in
Fortnox). The clock check compares the API's ``Date`` header with ours: token expiry is computed locally
and ``lastmodified`` windows assume clocks agree to well under the overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from fortnox_connector.errors import AuthError, ConnectorError
from fortnox_connector.fortnox import invoicing
from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.fortnox.errors import MissingLicence, MissingScope
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.logs import tenant_scope

MAX_SKEW_S = 60.0


@dataclass(frozen=True, slots=True)
class CheckItem:
    name: str
    ok: bool
    detail: str
    hint: str | None = None


def _probe(client: FortnoxClient, scope: str) -> None:
    if scope == "companyinformation":
        client.company_information()
    elif scope == "invoice":
        client.list_invoices(limit=1)
    elif scope == "payment":
        client.list_invoice_payments(limit=1)
    elif scope == "settings":
        client.modes_of_payment()
    elif scope == "customer":
        invoicing.probe_customers(client)
    else:
        raise ValueError(scope)


_PROBES = ("companyinformation", "invoice", "payment", "settings", "customer")


def _needed_by(runtime: Runtime) -> dict[str, str]:
    """Per scope, `` (needed by a, b)``: the declared actions needing it, so a missing one names its cost."""
    actions = getattr(getattr(runtime.catalog.connector, "declaration", None), "actions", ())
    needs: dict[str, list[str]] = {}
    for action in actions:
        for scope in getattr(action, "scopes", ()):
            needs.setdefault(scope, []).append(action.name)
    return {scope: f" (needed by {', '.join(names)})" for scope, names in needs.items()}


def _clock_item(runtime: Runtime) -> CheckItem:
    try:
        with httpx.Client(transport=runtime.http_transport(), timeout=10) as http:
            answer = http.get(runtime.settings.api_url.rstrip("/") + "/3/companyinformation")
        theirs = parsedate_to_datetime(answer.headers["date"])
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        return CheckItem("clock", False, f"no Date header from the API ({type(exc).__name__})")
    ours: datetime = runtime.now()
    skew = (ours - theirs).total_seconds()
    ok = abs(skew) <= MAX_SKEW_S
    return CheckItem(
        "clock",
        ok,
        f"ours is {skew:+.0f} s from Fortnox's",
        None if ok else "synchronise this machine's clock (NTP): token expiry and change windows rely on it",
    )


def _scope_items(client: FortnoxClient, items: list[CheckItem], needs: dict[str, str]) -> CheckItem | None:
    """One item per scope probe appended to ``items``; a failed auth item instead when Fortnox refused the
    token itself (then no scope can be told: "auth ok" must not stand beside it)."""
    for scope in _PROBES:
        try:
            _probe(client, scope)
        except AuthError as exc:
            return CheckItem("auth", False, exc.message, exc.hint)
        except MissingScope as exc:
            items.append(CheckItem(f"scope {scope}", False, "not granted" + needs.get(scope, ""), exc.hint))
        except MissingLicence as exc:
            detail = "the company has no licence" + needs.get(scope, "")
            items.append(CheckItem(f"licence {scope}", False, detail, exc.hint))
        except ConnectorError as exc:
            items.append(CheckItem(f"scope {scope}", False, exc.message, exc.hint))
        else:
            items.append(CheckItem(f"scope {scope}", True, "granted and licensed"))
    return None


def check_tenant(
    runtime: Runtime, tenant: str, *, clock: Callable[[], CheckItem] | None = None
) -> list[CheckItem]:
    """Every check's outcome, in order; stops after a failed auth (nothing else can work)."""
    with tenant_scope(tenant):
        return _checks(runtime, tenant, clock)


def _checks(runtime: Runtime, tenant: str, clock: Callable[[], CheckItem] | None) -> list[CheckItem]:
    items: list[CheckItem] = []
    record = runtime.store.require_tenant(tenant)
    if record.paused:
        items.append(
            CheckItem(
                "paused",
                False,
                record.paused_reason or "paused",
                f"run `fortnox-connector connect {tenant}` (that resumes it)",
            )
        )
    try:
        tokens = runtime.token_provider(record)
        try:
            tokens.access_token()
        except ConnectorError as exc:
            items.append(CheckItem("auth", False, exc.message, exc.hint))
            return items
        auth_at = len(items)
        items.append(CheckItem("auth", True, f"a valid token ({record.auth_mode})"))
        with runtime.context(tenant) as ctx:
            failed_auth = _scope_items(ctx.client, items, _needed_by(runtime))
            if failed_auth is not None:  # e.g. invalid_grant on the refresh a 401 led to: auth failed
                items[auth_at] = failed_auth
                del items[auth_at + 1 :]
                return items
            try:
                info = ctx.client.company_information()
                same = record.fortnox_tenant_id in (None, str(info.database_number))
                items.append(
                    CheckItem(
                        "company",
                        same,
                        f"{info.company_name} (DatabaseNumber {info.database_number})",
                        None
                        if same
                        else "the token belongs to another company than before: reconnect with "
                        f"`fortnox-connector connect {tenant}` and pick DatabaseNumber "
                        f"{record.fortnox_tenant_id}",
                    )
                )
            except ConnectorError:
                pass  # already reported by the companyinformation probe
    except ConnectorError as exc:
        items.append(CheckItem("config", False, exc.message, exc.hint))
        return items
    items.append(clock() if clock is not None else _clock_item(runtime))
    return items
