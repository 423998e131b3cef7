"""The host-facing contract: hookspecs, the typed records hooks yield, and the state a host keeps."""
