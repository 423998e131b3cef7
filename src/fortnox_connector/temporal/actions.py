"""Actions through Temporal: the idempotency key is the workflow id, so one key runs once across workers.

``start_action`` starts ``ActionRun`` with id ``fortnox-action/<tenant>/<action>/<key>``. While it runs,
callers with the same key join it (``USE_EXISTING``); once it finished, a new start with that id is refused
(``REJECT_DUPLICATE``) and the caller gets the first result from Temporal. Behind that, ``register_payment``
records the key in the store before its POST, so even a retried activity never pays twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from fortnox_connector.temporal.shapes import ACTION_WORKFLOW, TASK_QUEUE, ActionJob, action_workflow_id


def action_key(data: dict[str, Any]) -> str:
    """The input's ``idempotency_key``, else a hash of the input (a read such as ``get_invoice``)."""
    key = data.get("idempotency_key")
    if isinstance(key, str) and key:
        return key
    return "sha256:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


async def start_action(
    client: Client, tenant: str, action: str, data: dict[str, Any], *, task_queue: str = TASK_QUEUE
) -> dict[str, Any]:
    """Run ``action`` for ``tenant`` exactly once per idempotency key; its output (the first, on repeats)."""
    key = action_key(data)
    workflow_id = action_workflow_id(tenant, action, key)
    handle: WorkflowHandle[Any, dict[str, Any]]
    try:
        handle = await client.start_workflow(
            ACTION_WORKFLOW,
            ActionJob(tenant, action, data, key),
            id=workflow_id,
            task_queue=task_queue,
            result_type=dict,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:  # it ran to its end before: the first result stands
        handle = client.get_workflow_handle(workflow_id, result_type=dict)
    return await handle.result()
