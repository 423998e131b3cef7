"""``check TENANT``: is the tenant ready to run? Auth, then the connector's own check, then the clock.

The connector says what "ready" means through the contract (``Connector.check``: for Fortnox each scope
and licence, and the company); the runtime only opens the session and lists the results. The clock check
compares the API's ``Date`` header with ours: token expiry is computed locally and ``lastmodified``
windows assume clocks agree to well under the overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from fortnox_connector.contract.records import CheckResult
from fortnox_connector.errors import ConnectorError
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.logs import tenant_scope

MAX_SKEW_S = 60.0


CheckItem = CheckResult  # the contract's record


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
    items.append(clock() if clock is not None else _clock_item(runtime))
    return items
