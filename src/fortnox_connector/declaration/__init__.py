"""``connector.yaml`` and its JSON Schemas: loaded, validated, and turned into typed settings."""
