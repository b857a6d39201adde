"""The event catalog (alpana_hooks.events): types, payload fields, building and validating data."""

from __future__ import annotations

import ast
import copy
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
from event_schema import FORMAT_CHECKER, schema_problems, validator

from alpana_hooks import events
from alpana_hooks.api import EVENT_ID
from alpana_hooks.events import (
    CATALOG,
    EVENT_TYPES,
    PING,
    EventType,
    Field,
    PayloadError,
    UnknownEventType,
    build_data,
    event_body,
    get_event_type,
    id_field,
    new_event_id,
    resource_of,
    validate_data,
)
from alpana_hooks.timeutil import utcnow

TEN = (
    "comment.added",
    "dashboard.added",
    "dashboard.deleted",
    "dashboard.updated",
    "datasource.added",
    "datasource.deleted",
    "datasource.updated",
    "widget.added",
    "widget.deleted",
    "widget.updated",
)

# Alpana Server's supported webhook events: group, title, required fields, optional fields.
SUPPORTED_EVENTS = {
    "comment.added": (
        "Dashboard Comments",
        "New dashboard comment added",
        ["target", "target_id", "target_name", "comment_id", "comment_url"],
        [],
    ),
    "dashboard.added": (
        "Dashboards",
        "New dashboard added",
        ["dashboard_id", "name", "url"],
        ["copied_from"],
    ),
    "dashboard.deleted": ("Dashboards", "Dashboard deleted", ["dashboard_id", "name"], []),
    "dashboard.updated": (
        "Dashboards",
        "Dashboard updated",
        ["dashboard_id", "name", "url"],
        ["version"],
    ),
    "datasource.added": ("Datasources", "New datasource added", ["datasource_id", "name"], []),
    "datasource.deleted": ("Datasources", "Datasource deleted", ["datasource_id", "name"], []),
    "datasource.updated": ("Datasources", "Datasource updated", ["datasource_id", "name"], []),
    "widget.added": ("Widgets", "New widget added", ["widget_id", "name", "url"], []),
    "widget.deleted": ("Widgets", "Widget deleted", ["widget_id", "name"], []),
    "widget.updated": ("Widgets", "Widget updated", ["widget_id", "name", "url"], ["version"]),
}

SERVER = "https://bi.example.com"
DELETE = object()  # in a change: remove the key

# (type, build_data kwargs, expected data) -- one per subscribable type.
BUILD_CASES = [
    (
        "comment.added",
        dict(target="widget", target_id="w-7", name="Sales by region", id="c-99"),
        {
            "target": "widget",
            "target_id": "w-7",
            "target_name": "Sales by region",
            "comment_id": "c-99",
            "comment_url": f"{SERVER}/t1/widgets/w-7/comments/c-99",
        },
    ),
    (
        "dashboard.added",
        dict(id="d-1", name="Sales", copied_from="d-0"),
        {
            "dashboard_id": "d-1",
            "name": "Sales",
            "url": f"{SERVER}/t1/dashboards/d-1",
            "copied_from": "d-0",
        },
    ),
    (
        "dashboard.deleted",
        dict(id="d-1", name="Sales"),
        {"dashboard_id": "d-1", "name": "Sales"},
    ),
    (
        "dashboard.updated",
        dict(id="d-1", name="Sales 2024", version=3),
        {
            "dashboard_id": "d-1",
            "name": "Sales 2024",
            "url": f"{SERVER}/t1/dashboards/d-1",
            "version": 3,
        },
    ),
    (
        "datasource.added",
        dict(id="ds-1", name="Warehouse"),
        {"datasource_id": "ds-1", "name": "Warehouse"},
    ),
    (
        "datasource.deleted",
        dict(id="ds-1", name="Warehouse"),
        {"datasource_id": "ds-1", "name": "Warehouse"},
    ),
    (
        "datasource.updated",
        dict(id="ds-1", name="Warehouse v2"),
        {"datasource_id": "ds-1", "name": "Warehouse v2"},
    ),
    (
        "widget.added",
        dict(id="3f2c9a1e-0b7d-4c55-9e61-2a8f0d4b7c10", name="Revenue"),
        {
            "widget_id": "3f2c9a1e-0b7d-4c55-9e61-2a8f0d4b7c10",
            "name": "Revenue",
            "url": f"{SERVER}/t1/widgets/3f2c9a1e-0b7d-4c55-9e61-2a8f0d4b7c10",
        },
    ),
    (
        "widget.deleted",
        dict(id="w-7", name="Revenue"),
        {"widget_id": "w-7", "name": "Revenue"},
    ),
    (
        "widget.updated",
        dict(id="w-7", name="Revenue", url="https://elsewhere.example/w/7", version=12),
        {"widget_id": "w-7", "name": "Revenue", "url": "https://elsewhere.example/w/7", "version": 12},
    ),
]


def valid_sample(name: str) -> dict:
    """A valid data object for any catalog type, ping included."""
    if name == PING:
        return {"subscription_id": 4, "message": "Hello from alpana-hooks"}
    for event_type, kwargs, expected in BUILD_CASES:
        if event_type == name:
            return dict(expected)
    raise AssertionError(name)


def body(name: str, data: object | None = None) -> dict:
    return {
        "type": name,
        "id": "evt_2b7QpX_9-a",
        "timestamp": "2024-05-01T12:30:00Z",
        "tenant": "t1",
        "data": valid_sample(name) if data is None else data,
    }


# --- the catalog ------------------------------------------------------------------------------


def test_the_ten_types_exactly_and_in_catalog_order():
    assert EVENT_TYPES == TEN
    assert isinstance(EVENT_TYPES, tuple)


def test_catalog_holds_the_ten_and_ping_keyed_by_name():
    assert list(CATALOG) == [*TEN, PING]
    assert PING == "ping"
    for name, et in CATALOG.items():
        assert isinstance(et, EventType)
        assert et.name == name
        assert all(isinstance(f, Field) for f in et.fields)
        assert all(f.type in ("string", "integer", "string-url", "enum") for f in et.fields)


def test_catalog_entries_are_immutable():
    with pytest.raises(AttributeError):
        CATALOG["dashboard.updated"].title = "x"  # type: ignore[misc]


@pytest.mark.parametrize("name", TEN)
def test_group_title_and_fields_are_alpana_servers(name):
    group, title, required, optional = SUPPORTED_EVENTS[name]
    et = CATALOG[name]
    assert (et.group, et.title) == (group, title)
    assert [f.name for f in et.fields if f.required] == required
    assert [f.name for f in et.fields if not f.required] == optional
    assert et.required_fields == tuple(required)
    assert et.field_names == tuple(required + optional)
    assert et.fires_when and "\n" not in et.fires_when
    assert all(f.description for f in et.fields)


def test_deleted_types_carry_no_url_and_comment_added_carries_comment_url():
    for name in ("dashboard.deleted", "widget.deleted", "datasource.deleted", "datasource.added"):
        assert "url" not in CATALOG[name].field_names
    comment = CATALOG["comment.added"]
    assert comment.field("comment_url").type == "string-url"
    assert comment.field("target").type == "enum"
    assert comment.field("target").choices == ("dashboard", "widget")
    for name in ("dashboard.added", "dashboard.updated", "widget.added", "widget.updated"):
        assert CATALOG[name].field("url").type == "string-url"
    assert CATALOG["dashboard.updated"].field("version").type == "integer"
    assert CATALOG["widget.updated"].field("version").type == "integer"


@pytest.mark.parametrize("name", ["dashboard.updated", "widget.updated"])
def test_updated_fires_on_a_new_or_restored_version_but_not_on_a_rename_alone(name):
    fires = CATALOG[name].fires_when
    kind = name.split(".")[0]
    assert fires.startswith(f"the {kind} itself changes")
    assert "new version" in fires and "restored" in fires
    assert "not when only its name changes" in fires


def test_dashboard_added_fires_on_copy_too():
    assert "copied" in CATALOG["dashboard.added"].fires_when
    assert "copied" in CATALOG["dashboard.added"].field("copied_from").description


def test_ping_is_a_test_event_with_subscription_id_and_message():
    ping = CATALOG[PING]
    assert ping.group == "Test"
    assert [(f.name, f.type, f.required) for f in ping.fields] == [
        ("subscription_id", "integer", True),
        ("message", "string", True),
    ]
    assert "ping SUB_ID" in ping.fires_when


# --- get_event_type -----------------------------------------------------------------------------


def test_get_event_type_returns_the_catalog_entry():
    assert get_event_type("widget.updated") is CATALOG["widget.updated"]
    assert get_event_type(PING, include_ping=True) is CATALOG[PING]


def test_unknown_type_message_lists_all_ten():
    with pytest.raises(UnknownEventType) as info:
        get_event_type("dashboard.renamed")
    message = str(info.value)
    assert message == "unknown event type 'dashboard.renamed'; valid types: " + ", ".join(TEN)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", ["Dashboard.Updated", "", " dashboard.updated", "dashboard"])
def test_names_are_exact(bad):
    with pytest.raises(UnknownEventType):
        get_event_type(bad)


def test_ping_is_not_subscribable_unless_asked_for():
    with pytest.raises(UnknownEventType) as info:
        get_event_type(PING)
    assert "test event" in str(info.value)
    assert all(name in str(info.value) for name in TEN)


def test_resource_of_and_id_field():
    assert resource_of("dashboard.updated") == ("dashboard", "updated")
    assert resource_of("widget.added") == ("widget", "added")
    assert resource_of("widget.deleted") == ("widget", "deleted")
    assert resource_of("datasource.updated") is None
    assert resource_of("comment.added") is None
    assert resource_of(PING) is None
    assert id_field("dashboard.deleted") == "dashboard_id"
    assert id_field("datasource.added") == "datasource_id"
    assert id_field("widget.updated") == "widget_id"
    assert id_field("comment.added") == "comment_id"
    assert id_field(PING) is None
    for name in TEN:
        assert id_field(name) in CATALOG[name].required_fields
    with pytest.raises(UnknownEventType):
        id_field("nope.added")
    with pytest.raises(UnknownEventType):
        resource_of("nope.added")


# --- build_data -------------------------------------------------------------------------------


def test_build_cases_cover_the_ten():
    assert [case[0] for case in BUILD_CASES] == list(TEN)


@pytest.mark.parametrize(
    "name,kwargs,expected", BUILD_CASES, ids=[case[0] for case in BUILD_CASES]
)
def test_build_data_makes_valid_data_with_exactly_the_expected_fields(name, kwargs, expected):
    data = build_data(name, server_url=SERVER, tenant="t1", **kwargs)
    assert data == expected
    assert list(data) == [f for f in CATALOG[name].field_names if f in data]  # catalog order
    assert validate_data(name, data) == []
    assert schema_problems(body(name, data)) == []


def test_comment_added_takes_its_own_flags_too():
    data = build_data(
        "comment.added",
        target="dashboard",
        target_id="d-1",
        target_name="Sales",
        comment_id="c-1",
        comment_url="https://bi.example.com/c/1",
        tenant="t1",
    )
    assert data == {
        "target": "dashboard",
        "target_id": "d-1",
        "target_name": "Sales",
        "comment_id": "c-1",
        "comment_url": "https://bi.example.com/c/1",
    }
    # --url is the comment's URL for comment.added
    assert build_data("comment.added", url="https://x.example/c", tenant="t1") == {
        "comment_url": "https://x.example/c"
    }


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(id="c-1", comment_id="c-2"), "comment_id"),
        (dict(name="A", target_name="B"), "target_name"),
        (dict(url="https://a.example/", comment_url="https://b.example/"), "comment_url"),
    ],
)
def test_comment_added_aliases_that_disagree_are_an_error(kwargs, field):
    with pytest.raises(PayloadError, match=field):
        build_data("comment.added", server_url=SERVER, tenant="t1", target="widget",
                   target_id="w", **kwargs)


def test_optional_fields_only_when_given():
    added = build_data("dashboard.added", id="d-1", name="Sales", server_url=SERVER, tenant="t1")
    assert "copied_from" not in added
    updated = build_data("widget.updated", id="w", name="W", server_url=SERVER, tenant="t1")
    assert "version" not in updated
    assert validate_data("widget.updated", updated) == []


def test_only_given_fields_are_included():
    assert build_data("datasource.deleted", id="ds-1", tenant="t1") == {"datasource_id": "ds-1"}
    assert validate_data("datasource.deleted", {"datasource_id": "ds-1"}) == ["missing field 'name'"]


@pytest.mark.parametrize("server_url", [SERVER, SERVER + "/", SERVER + "//"])
def test_urls_built_from_server_url_ignore_trailing_slashes(server_url):
    def url(name, **kw):
        return build_data(name, server_url=server_url, tenant="acme", **kw)

    assert url("dashboard.added", id="42")["url"] == f"{SERVER}/acme/dashboards/42"
    assert url("dashboard.updated", id="42")["url"] == f"{SERVER}/acme/dashboards/42"
    assert url("widget.added", id="7")["url"] == f"{SERVER}/acme/widgets/7"
    assert url("widget.updated", id="7")["url"] == f"{SERVER}/acme/widgets/7"
    assert (
        url("comment.added", target="dashboard", target_id="42", id="c9")["comment_url"]
        == f"{SERVER}/acme/dashboards/42/comments/c9"
    )


def test_server_url_with_a_path_prefix_is_kept():
    data = build_data("widget.added", id="7", server_url="https://x.example/bi/", tenant="t")
    assert data["url"] == "https://x.example/bi/t/widgets/7"


def test_ids_are_quoted_as_one_path_segment():
    data = build_data("dashboard.added", id="a/b c", name="N", server_url=SERVER, tenant="t1")
    assert data["url"] == f"{SERVER}/t1/dashboards/a%2Fb%20c"
    assert data["dashboard_id"] == "a/b c"


def test_explicit_url_wins_over_server_url():
    data = build_data("dashboard.updated", id="1", url="https://other.example/d/1",
                      server_url=SERVER, tenant="t1")
    assert data["url"] == "https://other.example/d/1"


@pytest.mark.parametrize(
    "name,kwargs,field",
    [
        ("dashboard.added", dict(id="1", name="N"), "url"),
        ("dashboard.updated", dict(id="1"), "url"),
        ("widget.added", dict(id="1"), "url"),
        ("widget.updated", dict(id="1"), "url"),
        ("comment.added", dict(target="widget", target_id="w", id="c"), "comment_url"),
    ],
)
@pytest.mark.parametrize("server_url", [None, ""])
def test_missing_url_and_server_url_is_an_error(name, kwargs, field, server_url):
    with pytest.raises(PayloadError) as info:
        build_data(name, server_url=server_url, tenant="t1", **kwargs)
    message = str(info.value)
    assert f"'{field}'" in message
    assert "give --item-url or set server_url" in message
    assert "\n" not in message


def test_types_without_url_need_no_server_url():
    assert build_data("dashboard.deleted", id="1", name="N", tenant="t1") == {
        "dashboard_id": "1",
        "name": "N",
    }


def test_url_cannot_be_built_without_the_id():
    with pytest.raises(PayloadError, match="--id"):
        build_data("dashboard.added", name="N", server_url=SERVER, tenant="t1")
    with pytest.raises(PayloadError, match="--target-id"):
        build_data("comment.added", target="widget", id="c", server_url=SERVER, tenant="t1")


def test_server_url_that_is_not_http_is_an_error():
    with pytest.raises(PayloadError, match="server_url"):
        build_data("widget.added", id="1", server_url="bi.example.com", tenant="t1")


@pytest.mark.parametrize(
    "name,kwargs,message",
    [
        ("dashboard.added", dict(version=2), "--version does not apply to dashboard.added"),
        ("widget.added", dict(copied_from="w0"), "--copied-from does not apply to widget.added"),
        ("widget.updated", dict(copied_from="w0"), "--copied-from does not apply to widget.updated"),
        ("dashboard.deleted", dict(url="https://x.example/"), "--item-url does not apply to dashboard.deleted"),
        ("datasource.updated", dict(version=2), "--version does not apply to datasource.updated"),
        ("datasource.added", dict(url="https://x.example/"), "--item-url does not apply to datasource.added"),
        ("dashboard.updated", dict(target="widget"), "--target does not apply to dashboard.updated"),
        ("widget.added", dict(comment_id="c"), "--comment-id does not apply to widget.added"),
        ("comment.added", dict(version=1), "--version does not apply to comment.added"),
    ],
)
def test_flags_that_do_not_belong_to_the_type_are_an_error(name, kwargs, message):
    with pytest.raises(PayloadError) as info:
        build_data(name, id="1", server_url=SERVER, tenant="t1", **kwargs)
    assert str(info.value) == message


def test_build_data_rejects_unknown_types_and_ping():
    with pytest.raises(UnknownEventType):
        build_data("dashboard.renamed", id="1", tenant="t1")
    with pytest.raises(UnknownEventType):
        build_data(PING, tenant="t1")


# --- validate_data ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*TEN, PING])
def test_valid_samples_have_no_problems(name):
    assert validate_data(name, valid_sample(name)) == []


@pytest.mark.parametrize(
    "name,change,problems",
    [
        ("dashboard.updated", {"dashboard_id": DELETE}, ["missing field 'dashboard_id'"]),
        ("dashboard.deleted", {"colour": "red"}, ["unknown field 'colour'"]),
        ("dashboard.updated", {"version": "3"}, ["field 'version' must be an integer"]),
        ("widget.updated", {"version": True}, ["field 'version' must be an integer"]),
        ("widget.updated", {"version": 2.0}, ["field 'version' must be an integer"]),
        ("widget.updated", {"version": 0}, ["field 'version' must be an integer >= 1"]),
        ("comment.added", {"target": "datasource"}, ["field 'target' must be one of dashboard, widget"]),
        ("comment.added", {"target": ["widget"]}, ["field 'target' must be one of dashboard, widget"]),
        ("dashboard.added", {"url": "ftp://bi.example.com/x"}, ["field 'url' must be an http(s) URL"]),
        ("dashboard.added", {"url": "bi.example.com/x"}, ["field 'url' must be an http(s) URL"]),
        ("widget.added", {"url": "https://"}, ["field 'url' must be an http(s) URL"]),
        ("comment.added", {"comment_url": 5}, ["field 'comment_url' must be an http(s) URL"]),
        ("datasource.added", {"name": ""}, ["field 'name' must be a non-empty string"]),
        ("datasource.added", {"name": "   "}, ["field 'name' must be a non-empty string"]),
        ("datasource.added", {"datasource_id": 17}, ["field 'datasource_id' must be a non-empty string"]),
        ("dashboard.added", {"copied_from": None}, ["field 'copied_from' must be a non-empty string"]),
        ("ping", {"subscription_id": "4"}, ["field 'subscription_id' must be an integer"]),
        (
            "widget.deleted",
            {"widget_id": DELETE, "name": DELETE, "url": "https://x.example/"},
            ["missing field 'widget_id'", "missing field 'name'", "unknown field 'url'"],
        ),
    ],
)
def test_validate_data_names_each_problem(name, change, problems):
    data = valid_sample(name)
    for key, value in change.items():
        if value is DELETE:
            del data[key]
        else:
            data[key] = value
    assert validate_data(name, data) == problems


@pytest.mark.parametrize("data", [None, [], "x", 3, [("dashboard_id", "1")]])
def test_validate_data_wants_an_object(data):
    assert validate_data("dashboard.deleted", data) == ["data must be a JSON object"]


def test_validate_data_on_empty_object_lists_every_required_field():
    assert validate_data("comment.added", {}) == [
        f"missing field '{f}'" for f in SUPPORTED_EVENTS["comment.added"][2]
    ]


def test_validate_data_unknown_type():
    with pytest.raises(UnknownEventType):
        validate_data("dashboard.renamed", {})


# --- JSON Schemas -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*TEN, PING])
def test_json_schema_describes_the_whole_body(name):
    et = CATALOG[name]
    schema = et.json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://alpana-hooks.dev/schemas/{name}.json"
    assert schema["title"] == et.title
    assert et.fires_when in schema["description"]
    assert schema["type"] == "object"
    assert schema["required"] == ["type", "id", "timestamp", "tenant", "data"]
    props = schema["properties"]
    assert props["type"] == {"const": name, "description": "The event type."}
    assert props["timestamp"]["format"] == "date-time"
    data = props["data"]
    assert data["type"] == "object"
    assert data["required"] == [f.name for f in et.fields if f.required]
    assert list(data["properties"]) == list(et.field_names)
    assert data["additionalProperties"] is False
    assert et.json_schema() is not schema  # callers may mutate their copy


@pytest.mark.parametrize("name", [*TEN, PING])
def test_valid_body_satisfies_the_schema_and_validate_data(name):
    sample = body(name)
    assert schema_problems(sample, CATALOG[name].json_schema()) == []
    assert validate_data(name, sample["data"]) == []


@pytest.mark.parametrize("name", TEN)
def test_the_schema_and_validate_data_agree(name):
    schema = CATALOG[name].json_schema()
    good = valid_sample(name)
    variants = [good]
    for key in good:
        missing = dict(good)
        del missing[key]
        variants.append(missing)
        for bad in (None, "", " ", 0, -1, 1, True, 2.5, [], {}, "ftp://x", "https://x/y", "widget"):
            variants.append({**good, key: bad})
    variants.append({**good, "extra": "x"})
    disagreements = []
    for data in variants:
        by_fields = validate_data(name, data) == []
        by_schema = schema_problems(body(name, data), schema) == []
        if by_fields != by_schema:
            disagreements.append(data)
    assert disagreements == []
    assert len(variants) > 10


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"type": "dashboard.deleted"}, "type"),
        ({"id": "evt.1"}, "id"),
        ({"id": ""}, "id"),
        ({"timestamp": "2024-05-01 12:30"}, "timestamp"),
        ({"timestamp": "2024-13-01T12:30:00Z"}, "timestamp"),
        ({"timestamp": "2024-02-30T12:30:00Z"}, "timestamp"),
        ({"timestamp": "2024-05-01T12:30:00"}, "timestamp"),
        ({"tenant": ""}, "tenant"),
        ({"extra": 1}, "extra"),
        ({"data": {"dashboard_id": "1"}}, "data"),
    ],
)
def test_invalid_envelopes_are_rejected(change, needle):
    sample = {**body("dashboard.updated"), **change}
    problems = schema_problems(sample, CATALOG["dashboard.updated"].json_schema())
    assert problems and any(needle in p for p in problems)


@pytest.mark.parametrize("name", [*TEN, PING])
def test_schemas_reject_non_objects_unknown_types_and_empty_bodies(name):
    schema = CATALOG[name].json_schema()
    assert schema_problems([], schema) == ["(root): [] is not of type 'object'"]
    problems = schema_problems({**body(name), "type": "dashboard.renamed"}, schema)
    assert problems and all(p.startswith("type: ") for p in problems)
    assert sorted(schema_problems({}, schema)) == sorted(
        f"(root): '{k}' is a required property" for k in ("type", "id", "timestamp", "tenant", "data")
    )


def test_event_ids_generated_and_given():
    schema = CATALOG["widget.deleted"].json_schema()
    generated = new_event_id(utcnow())
    for event_id in (generated, "evt_abc-DEF_123", "order-2024-0001", "6f1c7b9e-8a5d-4a1e-9d3f-0c2b7e4a1f55"):
        assert schema_problems({**body("widget.deleted"), "id": event_id}, schema) == []


def test_event_ids_sort_by_time_and_differ():
    now = datetime(2026, 11, 28, 17, 48, 17, 123456, tzinfo=timezone.utc)
    first, again, later = new_event_id(now), new_event_id(now), new_event_id(now + timedelta(milliseconds=1))
    assert first != again
    assert max(first, again) < later
    assert all(len(i) == 30 and i.startswith("evt_") and EVENT_ID.fullmatch(i) for i in (first, again, later))


def test_event_body_is_the_compact_envelope_its_schema_describes():
    now = datetime(2026, 11, 28, 17, 48, 17, 123456, tzinfo=timezone.utc)
    data = {**valid_sample("dashboard.updated"), "name": "Ventes é"}
    raw = event_body(event_type="dashboard.updated", event_id="evt_1", tenant="t1", data=data, now=now)
    assert raw == json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert json.loads(raw) == {"type": "dashboard.updated", "id": "evt_1", "timestamp": "2026-11-28T17:48:17.123456Z",
                               "tenant": "t1", "data": data}
    assert schema_problems(json.loads(raw)) == []


@pytest.mark.parametrize(
    "event_id",
    ["evt_abc", "order:2024:0001", "a" * 128, "a" * 129, "", "evt.1", "a b", "a/b", "é", "a\tb", "a\x00b"],
)
def test_the_schema_and_the_api_agree_on_event_ids(event_id):
    # (not "a\n": Python's "$", which jsonschema uses here, also matches before a final newline;
    # ECMA-262's, the dialect of JSON Schema, does not)
    by_schema = schema_problems({**body("widget.deleted"), "id": event_id}) == []
    assert by_schema == (EVENT_ID.fullmatch(event_id) is not None)


def _schema_nodes(schema: dict):
    """Every subschema: the schema itself and, recursively, each value under "properties"."""
    yield schema
    for sub in schema.get("properties", {}).values():
        yield from _schema_nodes(sub)


def test_the_schemas_use_only_keywords_and_formats_that_are_checked():
    """Nothing in our schemas is silently skipped: every keyword is a draft 2020-12 one, every
    format has a checker (jsonschema passes a format it cannot check)."""
    annotations = {"$schema", "$id", "title", "description"}
    for name in (*TEN, PING):
        for node in _schema_nodes(CATALOG[name].json_schema()):
            assert set(node) <= set(jsonschema.Draft202012Validator.VALIDATORS) | annotations, node
            assert node.get("format") in (None, *FORMAT_CHECKER.checkers), node


@pytest.mark.parametrize(
    "name,key",
    [("widget.updated", "version"), (PING, "subscription_id"), ("comment.added", "target"),
     ("datasource.added", "name")],
)
def test_booleans_are_neither_integers_nor_strings(name, key):
    data = {**valid_sample(name), key: True}
    assert schema_problems(body(name, data)) != []
    assert validate_data(name, data) != []


def test_schemas_are_draft_2020_12_and_refuse_unknown_data_fields():
    for name in (*TEN, PING):
        schema = CATALOG[name].json_schema()
        jsonschema.Draft202012Validator.check_schema(schema)
        assert list(validator(schema).iter_errors(body(name))) == []
        bad = copy.deepcopy(body(name))
        bad["data"]["unexpected"] = 1
        assert list(validator(schema).iter_errors(bad)) != []


# --- the module stays pure -----------------------------------------------------------------------


def test_events_imports_only_the_standard_library():
    """Every module of the events package imports the standard library and its sibling modules only."""
    modules = sorted(Path(events.__file__).parent.glob("*.py"))
    assert len(modules) > 1, modules
    imported = set()
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{module.name}: a relative import"
                imported.add(node.module)
    ours = {name for name in imported if name.split(".")[0] == "alpana_hooks"}
    assert all(name.startswith("alpana_hooks.events.") for name in ours), ours
    others = {name.split(".")[0] for name in imported - ours} - {"__future__"}
    assert others <= set(sys.stdlib_module_names), others - set(sys.stdlib_module_names)


def test_payload_errors_are_value_errors_with_one_line():
    assert issubclass(PayloadError, ValueError)
    assert issubclass(UnknownEventType, ValueError)
    with pytest.raises(ValueError) as info:
        build_data("dashboard.updated", id="1", tenant="t1")
    assert "\n" not in str(info.value)
