"""The README's host: load the installed connector through its entry point, list triggers and actions."""

import json

from fortnox_connector.contract import ConnectorManager

manager = ConnectorManager.load()  # every installed plugin of the "connectors" entry-point group
for connector in manager.connectors():
    print("connector", connector.name, connector.version, connector.title)
for trigger in manager.connector("fortnox").triggers:
    print("trigger", trigger.name, json.dumps(trigger.event_schema, sort_keys=True))
for action in manager.connector("fortnox").actions:
    print("action", action.name, json.dumps([action.input_schema, action.output_schema], sort_keys=True))
