"""An event's ``data``: built from the CLI flags of ``emit``, checked field by field, and measured.

``validate_data`` checks ``data`` by the rules the catalog's JSON Schemas state (the same regexes),
with one readable message per problem.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeGuard
from urllib.parse import quote

from alpana_hooks.events.catalog import (
    EVENT_TYPES,
    HTTP_URL_PATTERN,
    NON_BLANK_PATTERN,
    EventType,
    Field,
    get_event_type,
    id_field,
)

__all__ = ["PayloadError", "build_data", "data_bytes", "validate_data"]


class PayloadError(ValueError):
    """The flags given cannot make this event's data (one-line message)."""


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
        "--item-url",
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
            f"missing field {url_field!r} for {event_type}: give --item-url or set server_url"
        )
    if not isinstance(server_url, str) or not _HTTP_URL_RE.match(server_url):
        raise PayloadError(
            f"server_url must be an http(s) URL, got {server_url!r}: "
            f"fix server_url or give --item-url"
        )
    if not isinstance(tenant, str) or not _NON_BLANK_RE.search(tenant):
        raise PayloadError(f"cannot build {url_field!r} without a tenant: give --item-url")
    if event_type == "comment.added":
        needed = (("target", "--target"), ("target_id", "--target-id"), ("comment_id", "--id"))
    else:
        needed = ((id_field(event_type), "--id"),)  # type: ignore[assignment]
    missing = [flag for field, flag in needed if not data.get(field)]
    if missing:
        raise PayloadError(
            f"cannot build {url_field!r} from server_url without {', '.join(missing)}: "
            f"give {', '.join(missing)} or --item-url"
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


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _field_problem(field: Field, value: object) -> str | None:
    label = f"field {field.name!r}"
    if isinstance(value, str) and any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):  # cannot be sent as UTF-8
        return f"{label} must be valid UTF-8 text"
    if field.type == "integer":
        if not _is_int(value):
            return f"{label} must be an integer"
        if value < 1:
            return f"{label} must be an integer >= 1"
        if value > 2**63 - 1:  # SQLite's INTEGER (the rename rule stores it)
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

