"""The Fortnox connector's pluggy plugin: the hooks a host calls (implemented by the contract issue)."""
