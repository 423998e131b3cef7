"""``check TENANT``: is the tenant ready to run? Auth, then the connector's own check.

The connector says what "ready" means through the contract (``Connector.check``: for Fortnox each scope
and licence, the company, and its clock against Fortnox's); the runtime only opens the session and lists
the results.
"""

from __future__ import annotations

from fortnox_connector.contract.records import CheckResult
from fortnox_connector.errors import ConnectorError
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.logs import tenant_scope

CheckItem = CheckResult  # the contract's record


def check_tenant(runtime: Runtime, tenant: str) -> list[CheckItem]:
    """Every check's outcome, in order; stops after a failed auth (nothing else can work)."""
    with tenant_scope(tenant):
        return _checks(runtime, tenant)


def _checks(runtime: Runtime, tenant: str) -> list[CheckItem]:
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
        with runtime.session(tenant, tokens=tokens) as session:
            found = session.check()
        refused = next((i for i in found if i.name == "auth" and not i.ok), None)
        if refused is not None:  # e.g. invalid_grant on the refresh a 401 led to: "auth ok" must not stand
            items[auth_at] = refused
            return items
        items += found
    except ConnectorError as exc:
        items.append(CheckItem("config", False, exc.message, exc.hint))
    return items
