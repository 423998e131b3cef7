"""Init mode: what a tenant picks from in its connection settings, read from its Fortnox company.

Pandium runs an integration in ``init`` mode when a tenant is set up (and on demand); what the run prints
becomes the data behind the settings form's dynamic options. We report the company (so the person filling
in the form can see which Fortnox company is connected) and its modes of payment with their bookkeeping
accounts (the defaults for registering payments are chosen from these).
"""

from __future__ import annotations

from typing import Any

from fortnox_connector.fortnox.client import FortnoxClient


def discover_options(client: FortnoxClient) -> dict[str, Any]:
    company = client.company_information()
    modes = sorted(client.modes_of_payment(), key=lambda m: m.code)
    return {
        "company": {
            "name": company.company_name,
            "organization_number": company.organization_number,
            "fortnox_tenant_id": company.database_number,
        },
        "modes_of_payment": [
            {"code": m.code, "description": m.description, "account_number": m.account_number} for m in modes
        ],
        "mode_of_payment_codes": [m.code for m in modes],
    }
