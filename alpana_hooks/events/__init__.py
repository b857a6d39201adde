"""The event catalog: Alpana Server's webhook event types, when each fires, and its payload.

Pure package: standard library only, nothing of ours but its own modules, no I/O. Every delivered body is

    {"type": TYPE, "id": EVENT_ID, "timestamp": ISO-8601 UTC, "tenant": T, "data": {...}}

and ``EventType.json_schema()`` describes it (JSON Schema draft 2020-12). ``validate_data``
checks ``data`` by the same rules, with one readable message per problem.

- ``catalog``: the types, their fields and JSON Schemas, lookups by name;
- ``data``: an event's ``data`` built from the CLI flags of ``emit``, validated, measured;
- ``envelope``: new event ids and the exact body bytes around ``data``.
"""

from __future__ import annotations

from alpana_hooks.events.catalog import (
    CATALOG,
    EVENT_ID_PATTERN,
    EVENT_TYPES,
    PING,
    EventType,
    Field,
    UnknownEventType,
    get_event_type,
    id_field,
    resource_of,
)
from alpana_hooks.events.data import PayloadError, build_data, data_bytes, validate_data
from alpana_hooks.events.envelope import event_body, new_event_id

__all__ = [
    "CATALOG",
    "EVENT_ID_PATTERN",
    "EVENT_TYPES",
    "PING",
    "EventType",
    "Field",
    "PayloadError",
    "UnknownEventType",
    "build_data",
    "data_bytes",
    "event_body",
    "get_event_type",
    "id_field",
    "new_event_id",
    "resource_of",
    "validate_data",
]
