"""Init mode: what a tenant picks from in its connection settings, read from its Fortnox company.

Pandium runs an integration in ``init`` mode when a tenant is set up (and on demand). A top-level key of the
init run's stdout named like a ``definitions`` entry of the config schema in ``PANDIUM.yaml`` fills that
entry's choices (dynamic configs; a list of ``{"const", "title"}`` for a ``oneOf``). We print:

- ``modes_of_payment`` and ``mode_of_payment_accounts``: the choices for the defaults ``register_payment``
  uses (``default_mode_of_payment``, ``default_mode_of_payment_account``);
- ``options``: the same in full plus the connected company, for people and for other hosts.
"""

from __future__ import annotations

from typing import Any

from fortnox_connector.fortnox.client import FortnoxClient


def discover_options(client: FortnoxClient) -> dict[str, Any]:
    company = client.company_information()
    modes = sorted(client.modes_of_payment(), key=lambda m: m.code)
    accounts: dict[int, list[str]] = {}
    for mode in modes:
        if mode.account_number is not None:
            accounts.setdefault(mode.account_number, []).append(mode.code)
    return {
        "modes_of_payment": [
            {"const": m.code, "title": f"{m.code}: {m.description or m.code}"} for m in modes
        ],
        "mode_of_payment_accounts": [
            {"const": number, "title": f"{number} ({', '.join(codes)})"}
            for number, codes in sorted(accounts.items())
        ],
        "options": {
            "company": {
                "name": company.company_name,
                "organization_number": company.organization_number,
                "fortnox_tenant_id": company.database_number,
            },
            "modes_of_payment": [
                {"code": m.code, "description": m.description, "account_number": m.account_number}
                for m in modes
            ],
        },
    }
