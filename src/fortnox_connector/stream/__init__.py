"""The Fortnox WebSocket feed as a stream trigger source (``contract.stream``); see docs/stream.md.

``checkpoint.py`` the opaque checkpoint (per-topic offsets, the numbers already emitted), ``events.py``
a feed event → the connector's events (REST fetches, the triggers' filters), ``source.py`` the listener:
one connection per app, reconnects, token re-adds, back-pressure.
"""
