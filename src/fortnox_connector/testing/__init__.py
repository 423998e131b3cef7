"""Conformance suites a host's parts run: its state store (and outbox), and its shared rate window.

Subclass a suite in a test module and give its factory fixture; see ``state`` (``StateStoreConformance``,
``OutboxConformance``) and ``rate`` (``RateWindowConformance``). ``pytest -p fortnox_connector.testing``
also works.
"""

from fortnox_connector.testing.rate import RateWindowConformance, RateWindowFactory
from fortnox_connector.testing.state import OutboxConformance, StateStoreConformance, StoreFactory

__all__ = [
    "OutboxConformance",
    "RateWindowConformance",
    "RateWindowFactory",
    "StateStoreConformance",
    "StoreFactory",
]
