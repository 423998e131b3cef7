"""fortnox-connector: the Fortnox connector integration platforms load.

The package is laid out by architecture:

- ``contract``    the host-facing plugin contract (hookspecs, typed records, state interfaces)
- ``declaration`` ``connector.yaml`` and its JSON Schemas, loaded and validated
- ``fortnox``     the Fortnox REST client (httpx): paging, pacing, errors, typed records
- ``auth``        OAuth 2.0 (authlib): authorization code, client credentials, host-managed tokens
- ``triggers``    ``payment_received`` and ``invoice_paid`` poll triggers
- ``actions``     ``register_payment`` and ``get_invoice``
- ``runtime``     the reference multi-tenant runtime: CLI, SQLite state, sinks, Pandium mode
- ``sandbox``     a local emulator of the Fortnox API parts we use, OAuth included
"""

__version__ = "0.1.0"
