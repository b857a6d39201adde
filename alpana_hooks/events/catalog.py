"""The event catalog: Alpana Server's webhook event types, when each fires, and the JSON Schema
of each one's delivered body.

The ten subscribable types, their groups, titles, firing rules and fields are the webhook events
Alpana Server supports; ``ping`` is our own test event, sent by ``alpana-hooks ping SUB_ID``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "CATALOG",
    "EVENT_ID_PATTERN",
    "EVENT_TYPES",
    "HTTP_URL_PATTERN",
    "NON_BLANK_PATTERN",
    "PING",
    "EventType",
    "Field",
    "UnknownEventType",
    "get_event_type",
    "id_field",
    "resource_of",
]

PING = "ping"

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "https://alpana-hooks.dev/schemas/"

# One regex per rule, so that validate_data and the JSON Schemas cannot disagree. All three are
# valid in both Python ``re`` and ECMA-262.
NON_BLANK_PATTERN = r"\S"  # searched, not anchored: at least one non-whitespace character
HTTP_URL_PATTERN = r"^https?://[^\s/?#]+[^\s]*$"
# The event id, in the schemas only: what the API accepts for --event-id (1-128 letters, digits,
# "_", ":" or "-"; no "."), which includes the generated ids, "evt_" + 26 base-32 characters.
EVENT_ID_PATTERN = r"^[A-Za-z0-9_:-]{1,128}$"


class UnknownEventType(ValueError):
    """The name is not an event type; the message lists the valid ones."""


@dataclass(frozen=True)
class Field:
    """One field of an event's ``data`` object."""

    name: str
    type: str  # "string" | "integer" | "string-url" (a URL string) | "enum"
    required: bool
    description: str
    choices: tuple[str, ...] = ()

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of this field's value."""
        if self.type == "string":
            return {
                "type": "string",
                "minLength": 1,
                "pattern": NON_BLANK_PATTERN,
                "description": self.description,
            }
        if self.type == "string-url":
            return {
                "type": "string",
                "format": "uri",
                "pattern": HTTP_URL_PATTERN,
                "description": self.description,
            }
        if self.type == "integer":
            return {"type": "integer", "minimum": 1, "description": self.description}
        if self.type == "enum":
            return {"type": "string", "enum": list(self.choices), "description": self.description}
        raise ValueError(f"field {self.name!r} has unknown type {self.type!r}")


@dataclass(frozen=True)
class EventType:
    """One event type: its name, catalog group, title, firing rule and ``data`` fields."""

    name: str
    group: str
    title: str
    fires_when: str
    fields: tuple[Field, ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        """All ``data`` field names, in catalog order."""
        return tuple(f.name for f in self.fields)

    @property
    def required_fields(self) -> tuple[str, ...]:
        """The ``data`` fields every payload must hold."""
        return tuple(f.name for f in self.fields if f.required)

    def field(self, name: str) -> Field | None:
        """The field called ``name``, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema (draft 2020-12) of the whole delivered body; a new dict on each call."""
        return {
            "$schema": SCHEMA_DIALECT,
            "$id": f"{SCHEMA_BASE}{self.name}.json",
            "title": self.title,
            "description": f"{self.group}: {self.title}. Fires when {self.fires_when}.",
            "type": "object",
            "required": ["type", "id", "timestamp", "tenant", "data"],
            "properties": {
                "type": {"const": self.name, "description": "The event type."},
                "id": {
                    "type": "string",
                    "pattern": EVENT_ID_PATTERN,
                    "description": "The event id: evt_ and 26 base-32 characters when generated, "
                    "or the id given with --event-id (1-128 letters, digits, '_', ':' or '-').",
                },
                "timestamp": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When the event happened, ISO-8601 UTC.",
                },
                "tenant": {
                    "type": "string",
                    "minLength": 1,
                    "pattern": NON_BLANK_PATTERN,
                    "description": "The Alpana Server tenant the event belongs to.",
                },
                "data": {
                    "type": "object",
                    "description": "The event's payload.",
                    "required": list(self.required_fields),
                    "properties": {f.name: f.json_schema() for f in self.fields},
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        }


# --- the catalog ----------------------------------------------------------------------------

_UPDATED_RULE = (
    "the {kind} itself changes: a new version is saved or an older version restored; "
    "not when only its name changes"
)


def _id(kind: str) -> Field:
    return Field(f"{kind}_id", "string", True, f"The {kind}'s id (a string: ids may be GUIDs).")


def _name(kind: str) -> Field:
    return Field("name", "string", True, f"The {kind}'s name.")


def _url(kind: str) -> Field:
    return Field("url", "string-url", True, f"Link to the {kind} on Alpana Server.")


def _version(kind: str) -> Field:
    return Field(
        "version",
        "integer",
        False,
        f"The {kind}'s version after the change (a new one, or the one restored); "
        "an integer >= 1, present when known.",
    )


_ALL = (
    EventType(
        "comment.added",
        "Dashboard Comments",
        "New dashboard comment added",
        "a new comment is added to a dashboard or to a widget",
        (
            Field("target", "enum", True, "What was commented on.", ("dashboard", "widget")),
            Field("target_id", "string", True, "The id of the dashboard or widget."),
            Field("target_name", "string", True, "The name of the dashboard or widget."),
            Field("comment_id", "string", True, "The comment's id."),
            Field("comment_url", "string-url", True, "Link to the comment itself."),
        ),
    ),
    EventType(
        "dashboard.added",
        "Dashboards",
        "New dashboard added",
        "a new dashboard is added, or an existing one is copied",
        (
            _id("dashboard"),
            _name("dashboard"),
            _url("dashboard"),
            Field(
                "copied_from",
                "string",
                False,
                "The source dashboard's id, present only when the dashboard was copied.",
            ),
        ),
    ),
    EventType(
        "dashboard.deleted",
        "Dashboards",
        "Dashboard deleted",
        "a dashboard is deleted",
        (_id("dashboard"), _name("dashboard")),
    ),
    EventType(
        "dashboard.updated",
        "Dashboards",
        "Dashboard updated",
        _UPDATED_RULE.format(kind="dashboard"),
        (_id("dashboard"), _name("dashboard"), _url("dashboard"), _version("dashboard")),
    ),
    EventType(
        "datasource.added",
        "Datasources",
        "New datasource added",
        "a new datasource is added",
        (_id("datasource"), _name("datasource")),
    ),
    EventType(
        "datasource.deleted",
        "Datasources",
        "Datasource deleted",
        "a datasource is deleted",
        (_id("datasource"), _name("datasource")),
    ),
    EventType(
        "datasource.updated",
        "Datasources",
        "Datasource updated",
        "a datasource is updated",
        (_id("datasource"), _name("datasource")),
    ),
    EventType(
        "widget.added",
        "Widgets",
        "New widget added",
        "a new widget is added",
        (_id("widget"), _name("widget"), _url("widget")),
    ),
    EventType(
        "widget.deleted",
        "Widgets",
        "Widget deleted",
        "a widget is deleted",
        (_id("widget"), _name("widget")),
    ),
    EventType(
        "widget.updated",
        "Widgets",
        "Widget updated",
        _UPDATED_RULE.format(kind="widget"),
        (_id("widget"), _name("widget"), _url("widget"), _version("widget")),
    ),
    EventType(
        PING,
        "Test",
        "Test event (ping)",
        "`alpana-hooks ping SUB_ID` sends it to one subscription to test its endpoint; "
        "it cannot be subscribed to",
        (
            Field("subscription_id", "integer", True, "The subscription being tested."),
            Field("message", "string", True, "A human-readable test message."),
        ),
    ),
)

CATALOG: dict[str, EventType] = {et.name: et for et in _ALL}
EVENT_TYPES: tuple[str, ...] = tuple(et.name for et in _ALL if et.name != PING)

_VALID_LIST = ", ".join(EVENT_TYPES)


def get_event_type(name: str, *, include_ping: bool = False) -> EventType:
    """The catalog entry for ``name``; UnknownEventType (listing the valid types) if none."""
    if name == PING and not include_ping:
        raise UnknownEventType(
            f"event type 'ping' is a test event (sent by `ping SUB_ID`) and cannot be used here; "
            f"valid types: {_VALID_LIST}"
        )
    et = CATALOG.get(name) if isinstance(name, str) else None
    if et is None:
        valid = _VALID_LIST + (", ping" if include_ping else "")
        raise UnknownEventType(f"unknown event type {name!r}; valid types: {valid}")
    return et


def resource_of(event_type: str) -> tuple[str, str] | None:
    """("dashboard", "updated") for dashboard.* and widget.* types; None for the others."""
    get_event_type(event_type, include_ping=True)
    kind, _, action = event_type.partition(".")
    return (kind, action) if kind in ("dashboard", "widget") else None


def id_field(event_type: str) -> str | None:
    """The data field naming the resource: "dashboard_id" etc., "comment_id"; None for ping."""
    get_event_type(event_type, include_ping=True)
    if event_type == PING:
        return None
    if event_type == "comment.added":
        return "comment_id"
    return event_type.partition(".")[0] + "_id"
