"""Payload filters (add/edit --filter, list/show/export/apply, filter test) and emit --dry-run, against a real
receiver and a real store on both backends."""

import json

import pytest
from conftest import db_rows

from alpana_hooks import Hooks
from alpana_hooks.errors import UsageError

SALES = "data.name == 'Sales'"


def _emit(cli, name, *extra):
    return cli("emit", "dashboard.updated", "-t", "t1", "--id", "42", "--name", name, "--item-url", "https://bi/d/42", *extra)


def test_a_filter_lets_through_only_the_events_that_make_it_true(cli, add_sub, receiver):
    rx = receiver()
    add_sub(rx.url("/sales"), "dashboard.updated", "t1", "--filter", SALES)
    add_sub(rx.url("/all"))
    sales = _emit(cli, "Sales", "--json")
    assert sales.exit_code == 0 and json.loads(sales.stdout)["skipped_by_filter"] == 0
    other = _emit(cli, "Marketing")
    assert other.exit_code == 0, other.stderr
    assert other.stderr.endswith("1 attempt(s); 1 subscription(s) skipped by their filter\n")
    assert sorted((r["path"], json.loads(r["body"])["data"]["name"]) for r in rx.requests) == [
        ("/all", "Marketing"), ("/all", "Sales"), ("/sales", "Sales")]


def test_contains_and_a_field_the_event_lacks(cli, add_sub, receiver):
    rx = receiver()
    add_sub(rx.url("/q3"), "dashboard.updated", "t1", "--filter", "contains(data.name, 'Q3')")
    add_sub(rx.url("/missing"), "dashboard.updated", "t1", "--filter", "contains(data.nope, 'Q3')")
    assert _emit(cli, "Sales Q3").exit_code == 0
    assert _emit(cli, "Sales Q4").exit_code == 0
    # contains() of a missing field is a type error at run time: no match, no crash
    assert [(r["path"], json.loads(r["body"])["data"]["name"]) for r in rx.requests] == [("/q3", "Sales Q3")]


@pytest.mark.parametrize("expression,message", [
    ("data.name ==", "invalid filter 'data.name ==': incomplete expression at position 13 (the end)"),
    ("data.name == 'x", "invalid filter \"data.name == 'x\": Unclosed ' delimiter at position 14"),
    ("nope(data)", "invalid filter 'nope(data)': unknown function nope()"),
    ("", "invalid filter '': the expression is empty"),
])
def test_a_bad_filter_exits_2_with_the_position_and_writes_nothing(cli, add_sub, db_path, expression, message):
    added = cli("add", "-t", "t1", "--event", "dashboard.updated", "--url", "https://e.com/h", "--filter", expression)
    assert (added.exit_code, added.stdout, added.stderr) == (2, "", f"error: {message}\n")
    assert not db_path.exists() or db_rows(db_path, "SELECT id FROM subscriptions") == []
    sub = add_sub("https://e.com/h", "dashboard.updated", "t1", "--filter", SALES)
    edited = cli("edit", sub["id"], "-t", "t1", "--filter", expression)
    hint = " (to remove the filter, give --no-filter)" if not expression else ""
    assert (edited.exit_code, edited.stderr) == (2, f"error: {message}{hint}\n")
    assert db_rows(db_path, "SELECT filter FROM subscriptions") == [{"filter": SALES}]


def test_the_filter_shows_in_list_show_and_json_and_edit_removes_it(cli, add_sub, db_path):
    sub = add_sub("https://e.com/h", "dashboard.updated", "t1", "--filter", SALES)
    assert sub["filter"] == SALES
    assert cli.json("list", "-t", "t1")[0]["filter"] == SALES
    assert cli.json("show", sub["id"], "-t", "t1")["filter"] == SALES
    assert cli("list", "-t", "t1").stdout == "1\tdashboard.updated\thttps://e.com/h\tActive\t\tdata.name == 'Sales'\t\n"
    assert "Filter\tdata.name == 'Sales'" in cli("show", sub["id"], "-t", "t1").stdout.splitlines()
    assert cli.json("edit", sub["id"], "-t", "t1", "--no-filter")["filter"] is None
    assert db_rows(db_path, "SELECT filter FROM subscriptions") == [{"filter": None}]
    assert "Filter" not in cli("list", "-t", "t1").stdout
    both = cli("edit", sub["id"], "-t", "t1", "--no-filter", "--filter", SALES)
    assert (both.exit_code, both.stderr) == (2, "error: give either --filter or --no-filter, not both\n")


def test_export_and_apply_carry_the_filter(cli, add_sub, db_path, tmp_path):
    add_sub("https://e.com/h", "dashboard.updated", "t1", "--filter", SALES)
    exported = cli("export", "-t", "t1").stdout
    assert 'filter = "data.name == \'Sales\'"\n' in exported
    document = tmp_path / "subs.toml"
    document.write_text(exported.replace("'Sales'", "'Ops'"))
    applied = cli.json("apply", str(document), "-t", "t1")
    assert applied[0]["action"] == "update"
    assert applied[0]["changes"] == ["filter \"data.name == 'Sales'\" -> \"data.name == 'Ops'\""]
    assert db_rows(db_path, "SELECT filter FROM subscriptions") == [{"filter": "data.name == 'Ops'"}]
    document.write_text(exported.replace("filter = \"data.name == 'Sales'\"\n", ""))
    assert cli.json("apply", str(document), "-t", "t1")[0]["changes"] == ["filter \"data.name == 'Ops'\" -> None"]
    assert db_rows(db_path, "SELECT filter FROM subscriptions") == [{"filter": None}]
    document.write_text(exported.replace("'Sales'", "'Sales"))
    bad = cli("apply", str(document), "-t", "t1")
    assert bad.exit_code == 2 and bad.stderr.startswith(f"error: {document}: subscription #1, key 'filter': invalid")


def test_filter_test_says_match_or_no_match_and_why(cli, add_sub, tmp_path):
    sub = add_sub("https://e.com/h", "dashboard.updated", "t1", "--filter", SALES)
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"dashboard_id": "1", "name": "Sales", "url": "https://bi/d/1", "version": 2}))
    matched = cli("filter", "test", sub["id"], "-t", "t1", "--data", f"@{payload}")
    assert (matched.exit_code, matched.stdout) == (0, (
        "match: subscription 1\n"
        "filter: data.name == 'Sales'\n"
        "why:    the expression gives true, which is true in JMESPath\n"))
    recorded = cli.json("emit", "dashboard.updated", "-t", "t1", "--id", "7", "--name", "Ops", "--item-url", "https://b",
                        "--no-send")
    missed = cli.json("filter", "test", sub["id"], "-t", "t1", "--event", recorded["event_id"])
    assert missed == {"subscription_id": 1, "filter": SALES, "matched": False, "value": False,
                      "reason": "the expression gives false, which is false in JMESPath"}
    neither = cli("filter", "test", sub["id"], "-t", "t1")
    assert (neither.exit_code, neither.stderr) == (2, "error: give the event to test as --data or --event (one of them)\n")
    unknown = cli("filter", "test", 99, "-t", "t1", "--data", "{}")
    assert (unknown.exit_code, unknown.stderr) == (3, "error: subscription 99 not found in tenant t1\n")


def test_emit_dry_run_names_who_would_receive_and_records_nothing(cli, add_sub, receiver, db_path):
    rx = receiver()
    add_sub(rx.url("/sales"), "dashboard.updated", "t1", "--filter", SALES)
    add_sub(rx.url("/all"))
    add_sub(rx.url("/off"), "dashboard.updated", "t1", "--disabled")
    planned = _emit(cli, "Marketing", "--dry-run")
    assert planned.exit_code == 0, planned.stderr
    rows = [line.split("\t") for line in planned.stdout.splitlines()]  # piped: tab-separated rows
    assert [[row[0], row[3], row[4], row[5]] for row in rows] == [
        ["1", "data.name == 'Sales'", "no", "filter does not match"],
        ["2", "", "yes", "no filter"],
        ["3", "", "no", "disabled"],
    ]
    assert planned.stderr == "dry run: would send to 1 of 3 subscription(s); nothing recorded or sent\n"
    as_json = json.loads(_emit(cli, "Sales", "--dry-run", "--json").stdout)
    assert [(r["id"], r["receives"], r["reason"]) for r in as_json["recipients"]] == [
        (1, True, "filter matches"), (2, True, "no filter"), (3, False, "disabled")]
    assert rx.requests == []
    assert db_rows(db_path, "SELECT count(*) AS n FROM events") == [{"n": 0}]
    assert db_rows(db_path, "SELECT count(*) AS n FROM resources") == [{"n": 0}]


def test_dry_run_applies_the_rename_rule_and_the_event_id(cli, add_sub):
    add_sub("https://e.com/h")
    assert cli("emit", "dashboard.updated", "-t", "t1", "--id", "42", "--name", "A", "--item-url", "https://bi/d/42", "--version", "3",
               "--no-send", "--event-id", "e1").exit_code == 0
    renamed = cli("emit", "dashboard.updated", "-t", "t1", "--id", "42", "--name", "B", "--version", "3",
                  "--item-url", "https://bi/d/42", "--dry-run")
    assert (renamed.exit_code, renamed.stdout, renamed.stderr) == (0, "", "would not fire: only the name changed\n")
    repeated = cli("emit", "dashboard.updated", "-t", "t1", "--id", "42", "--name", "B", "--event-id", "e1", "--item-url", "https://b",
                   "--dry-run")
    assert repeated.stderr == "event e1 was already recorded; nothing would be sent again\n"
    both = cli("emit", "dashboard.updated", "-t", "t1", "--id", "1", "--dry-run", "--no-send")
    assert (both.exit_code, both.stderr) == (2, "error: give either --dry-run or --no-send, not both\n")


def test_the_python_api_filters_and_dry_runs(db_path, receiver, backend):
    rx = receiver()
    with Hooks.open() as hooks:
        with pytest.raises(UsageError, match="at position 13"):
            hooks.add_subscription("t1", "dashboard.updated", rx.url(), filter="data.name ==")
        sub = hooks.add_subscription("t1", "dashboard.updated", rx.url(), filter=SALES).subscription
        data = {"dashboard_id": "1", "name": "Ops", "url": "https://bi/d/1"}
        assert [r.receives for r in hooks.emit_dry_run("t1", "dashboard.updated", data).recipients] == [False]
        result = hooks.emit("t1", "dashboard.updated", data)
        assert (result.attempts, result.skipped_by_filter) == ((), 1)
        check = hooks.filter_test("t1", sub.id, data={**data, "name": "Sales"})
        assert (check.matched, check.value) == (True, True)
    assert rx.requests == []
