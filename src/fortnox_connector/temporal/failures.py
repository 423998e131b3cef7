"""Connector errors as Temporal failures: which are worth another try, which stop and pause the tenant.

- ``ReconnectRequired`` (refresh token dead, consent revoked): non-retryable; the tenant is paused;
- ``ConfigError``, ``FortnoxValidationError``, ``FortnoxForbidden`` (licence, scope): non-retryable; the
  tenant is paused (a person must fix it);
- ``ActionRejected``, ``NotFound`` in an action (the caller's input): non-retryable; the tenant goes on;
- ``RateLimited`` (429), ``FortnoxUnavailable`` (5xx, transport), ``DeliveryError``, anything else: retried
  with backoff.

Retrying a "reconnect" or a validation error can only fail again (and a dead refresh token retried in a
loop is what gets integrations blocked); everything transient is Temporal's to retry, with the cursor
where delivery got.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.errors import ConfigError, ConnectorError, ReconnectRequired
from fortnox_connector.fortnox.errors import FortnoxForbidden, FortnoxValidationError, NotFound

PAUSING = (ReconnectRequired, ConfigError, FortnoxValidationError, FortnoxForbidden)
CALLERS = (ActionRejected, NotFound)

SLICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=20,  # ~15 minutes of a 5xx storm; then the slot fails and the next slot resumes
)
ACTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=8,
)


def pauses_tenant(error: ConnectorError) -> bool:
    return isinstance(error, PAUSING)


def as_failure(error: ConnectorError, *, action: bool = False) -> ApplicationError:
    """The Temporal failure for ``error`` (its text names the tenant and the fix, never a secret)."""
    final = pauses_tenant(error) or (action and isinstance(error, CALLERS))
    return ApplicationError(str(error), type=type(error).__name__, non_retryable=final)
