"""The event catalog: Alpana Server's webhook event types, when each fires, and its payload.

The ten subscribable types, their groups, titles, firing rules and fields are the webhook events
Alpana Server supports; ``ping`` is our own test event, sent by ``alpana-hooks ping SUB_ID``.

Pure module: standard library only, nothing of ours imported, no I/O. Every delivered body is

    {"type": TYPE, "id": EVENT_ID, "timestamp": ISO-8601 UTC, "tenant": T, "data": {...}}

and ``EventType.json_schema()`` describes it (JSON Schema draft 2020-12). ``validate_data``
checks ``data`` by the same rules, with one readable message per problem.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = [
    "CATALOG",
    "EVENT_TYPES",
    "PING",
    "EventType",
    "Field",
    "PayloadError",
    "UnknownEventType",
    "build_data",
    "data_bytes",
    "get_event_type",
    "id_field",
    "resource_of",
    "validate_data",
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


class PayloadError(ValueError):
    """The flags given cannot make this event's data (one-line message)."""


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


# --- building data from CLI flags -------------------------------------------------------------

# keyword -> (CLI flag, the data field it sets for each type it applies to)
_FLAGS: dict[str, tuple[str, dict[str, str]]] = {
    "id": (
        "--id",
        {
            t: ("comment_id" if t == "comment.added" else t.partition(".")[0] + "_id")
            for t in EVENT_TYPES
        },
    ),
    "name": (
        "--name",
        {t: ("target_name" if t == "comment.added" else "name") for t in EVENT_TYPES},
    ),
    "url": (
        "--url",
        {
            "comment.added": "comment_url",
            "dashboard.added": "url",
            "dashboard.updated": "url",
            "widget.added": "url",
            "widget.updated": "url",
        },
    ),
    "version": ("--version", {"dashboard.updated": "version", "widget.updated": "version"}),
    "copied_from": ("--copied-from", {"dashboard.added": "copied_from"}),
    "target": ("--target", {"comment.added": "target"}),
    "target_id": ("--target-id", {"comment.added": "target_id"}),
    "target_name": ("--target-name", {"comment.added": "target_name"}),
    "comment_id": ("--comment-id", {"comment.added": "comment_id"}),
    "comment_url": ("--comment-url", {"comment.added": "comment_url"}),
}

_HTTP_URL_RE = re.compile(HTTP_URL_PATTERN)
_NON_BLANK_RE = re.compile(NON_BLANK_PATTERN)


def _seg(value: str) -> str:
    """One URL path segment: ids and tenants are quoted so a GUID or odd id stays one segment."""
    return quote(str(value), safe="")


def build_data(
    event_type: str,
    *,
    id: str | None = None,
    name: str | None = None,
    url: str | None = None,
    version: int | None = None,
    copied_from: str | None = None,
    target: str | None = None,
    target_id: str | None = None,
    target_name: str | None = None,
    comment_id: str | None = None,
    comment_url: str | None = None,
    server_url: str | None = None,
    tenant: str,
) -> dict[str, Any]:
    """Map the CLI flags of ``emit`` to ``event_type``'s data fields.

    Only the fields given are included (check the result with ``validate_data``); the URL
    field is built from ``server_url`` when not given. PayloadError for a flag that does not
    apply to the type, two flags that disagree, or a URL that can be neither taken nor built.
    """
    et = get_event_type(event_type)
    data = _data_from_flags(et, {
        "id": id, "name": name, "url": url, "version": version, "copied_from": copied_from,
        "target": target, "target_id": target_id, "target_name": target_name,
        "comment_id": comment_id, "comment_url": comment_url,
    })
    url_field = next((f.name for f in et.fields if f.type == "string-url"), None)
    if url_field is not None and url_field not in data:
        data[url_field] = _build_url(et.name, url_field, data, server_url, tenant)

    # catalog order, whatever order the flags came in
    return {f.name: data[f.name] for f in et.fields if f.name in data}


def _data_from_flags(et: EventType, given: dict[str, Any]) -> dict[str, Any]:
    """The data fields the given flags set (None is not given); PayloadError for a flag that does
    not apply to the type, or two flags that set one field to different values."""
    data: dict[str, Any] = {}
    set_by: dict[str, str] = {}
    for key, value in given.items():
        if value is None:
            continue
        flag, fields = _FLAGS[key]
        field = fields.get(et.name)
        if field is None:
            raise PayloadError(f"{flag} does not apply to {et.name}")
        if field in data and data[field] != value:
            raise PayloadError(
                f"{set_by[field]} {data[field]!r} and {flag} {value!r} disagree "
                f"(both set {field} of {et.name})"
            )
        data[field] = value
        set_by[field] = flag
    return data


def _build_url(
    event_type: str, url_field: str, data: dict[str, Any], server_url: str | None, tenant: str
) -> str:
    if not server_url:
        raise PayloadError(
            f"missing field {url_field!r} for {event_type}: give --url or set server_url"
        )
    if not isinstance(server_url, str) or not _HTTP_URL_RE.match(server_url):
        raise PayloadError(
            f"server_url must be an http(s) URL, got {server_url!r}: "
            f"fix server_url or give --url"
        )
    if not isinstance(tenant, str) or not _NON_BLANK_RE.search(tenant):
        raise PayloadError(f"cannot build {url_field!r} without a tenant: give --url")
    if event_type == "comment.added":
        needed = (("target", "--target"), ("target_id", "--target-id"), ("comment_id", "--id"))
    else:
        needed = ((id_field(event_type), "--id"),)  # type: ignore[assignment]
    missing = [flag for field, flag in needed if not data.get(field)]
    if missing:
        raise PayloadError(
            f"cannot build {url_field!r} from server_url without {', '.join(missing)}: "
            f"give {', '.join(missing)} or --url"
        )
    base = f"{server_url.rstrip('/')}/{_seg(tenant)}"
    if event_type == "comment.added":
        return (
            f"{base}/{_seg(data['target'])}s/{_seg(data['target_id'])}"
            f"/comments/{_seg(data['comment_id'])}"
        )
    kind = event_type.partition(".")[0]
    return f"{base}/{kind}s/{_seg(data[id_field(event_type)])}"  # type: ignore[index]


# --- validation -------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field_problem(field: Field, value: object) -> str | None:
    label = f"field {field.name!r}"
    if isinstance(value, str) and any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):  # cannot be sent as UTF-8
        return f"{label} must be valid UTF-8 text"
    if field.type == "integer":
        if not _is_int(value):
            return f"{label} must be an integer"
        if value < 1:  # type: ignore[operator]
            return f"{label} must be an integer >= 1"
        if value > 2**63 - 1:  # type: ignore[operator]  # SQLite's INTEGER (the rename rule stores it)
            return f"{label} must be at most {2**63 - 1}"
        return None
    if field.type == "enum":
        if value not in field.choices or not isinstance(value, str):
            return f"{label} must be one of {', '.join(field.choices)}"
        return None
    if field.type == "string-url":
        if not isinstance(value, str) or not _HTTP_URL_RE.match(value):
            return f"{label} must be an http(s) URL"
        return None
    if not isinstance(value, str) or not _NON_BLANK_RE.search(value):
        return f"{label} must be a non-empty string"
    return None


def validate_data(event_type: str, data: object) -> list[str]:
    """The problems of ``data`` for ``event_type`` (ping included), one per field; [] if valid.

    Ids are strings (BI ids may be GUIDs); strings must not be blank; ``version`` and
    ``subscription_id`` are integers >= 1 (booleans and floats are not integers).
    """
    et = get_event_type(event_type, include_ping=True)
    if not isinstance(data, dict):
        return ["data must be a JSON object"]
    problems = [f"missing field {f.name!r}" for f in et.fields if f.required and f.name not in data]
    for key, value in data.items():
        field = et.field(key) if isinstance(key, str) else None
        if field is None:
            problems.append(f"unknown field {key!r}")
            continue
        problem = _field_problem(field, value)
        if problem:
            problems.append(problem)
    return problems


def data_bytes(data: dict[str, Any]) -> int:
    """The size of ``data`` as every delivery carries it: compact JSON, UTF-8 (call after ``validate_data``)."""
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))

