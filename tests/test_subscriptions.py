"""The subscription lifecycle per tenant: add, list, show, edit, delete, enable, disable, headers, secrets."""

import json
import re

import pytest

from conftest import run_cli, table_rows


def test_add_prints_id_and_full_secret_and_masks_authorization(cli):
    result = cli("add", "--tenant", "t1", "--event", "dashboard.updated", "--url", "https://example.com/h",
                 "--header", "Authorization: Bearer abc")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"whsec_[A-Za-z0-9+/=]{40,}", result.stdout)
    assert result.stderr.startswith("Added subscription 1.") and "\nHeader Authorization\t********\n" in result.stdout
    assert "Bearer abc" not in result.stdout
    listed = cli.json("list", "--tenant", "t1")
    assert listed == [{
        "id": 1, "tenant": "t1", "event": "dashboard.updated", "url": "https://example.com/h", "description": "",
        "state": "active", "disabled_reason": None, "disabled_at": None,
        "headers": [{"name": "Authorization", "value": "********"}], "filter": None, "rate_limit": None,
        "created_at": listed[0]["created_at"], "updated_at": listed[0]["updated_at"],
    }]
    assert cli.json("list", "--tenant", "t2") == []


def test_add_json_shows_secret_once_then_masked(cli, add_sub):
    sub = add_sub("https://example.com/h")
    assert sub["secret"].startswith("whsec_")
    shown = cli.json("show", sub["id"], "--tenant", "t1")
    assert sub["secret"] not in json.dumps(shown)
    assert cli.json("secret", "show", sub["id"], "--tenant", "t1")[0]["secret"] == sub["secret"]


def test_headers_reveal(cli, add_sub):
    sub = add_sub("https://example.com/h", "dashboard.updated", "t1", "--header", "X-Api-Key: k1",
                  "--header", "X-Plain: visible")
    masked = cli.json("headers", "list", sub["id"], "--tenant", "t1")
    assert masked == [{"name": "X-Api-Key", "value": "********"}, {"name": "X-Plain", "value": "visible"}]
    revealed = cli.json("headers", "list", sub["id"], "--tenant", "t1", "--reveal")
    assert revealed[0] == {"name": "X-Api-Key", "value": "k1"}


@pytest.mark.parametrize("command", [
    ["show", "1"], ["edit", "1", "--description", "x"], ["delete", "1", "--yes"], ["enable", "1"], ["disable", "1"],
    ["headers", "add", "1", "X-A", "b"], ["headers", "remove", "1", "X-A"], ["headers", "list", "1"],
    ["secret", "show", "1"], ["secret", "rotate", "1"],
])
def test_other_tenant_gets_not_found(cli, add_sub, db_path, command):
    add_sub("https://example.com/h", "dashboard.updated", "t1", "--header", "X-A: 1")
    before = table_rows(db_path)
    result = cli(*command, "--tenant", "t2")
    assert result.exit_code == 3
    assert result.stderr.strip() == "error: subscription 1 not found in tenant t2"
    assert table_rows(db_path) == before


@pytest.mark.parametrize("args, message", [
    (["--url", "https://x/", "--header", "X-A: a\r\nInjected: 1"], "control characters"),
    (["--url", "https://x/", "--header", "X-A: a\nb"], "control characters"),
    (["--url", "https://x/", "--header", "Host: internal"], "header 'Host' is set by alpana-hooks itself"),
    (["--url", "https://x/", "--header", "webhook-id: x"], "set by alpana-hooks itself"),
    (["--url", "https://x/", "--header", "X Bad: v"], "invalid header name 'X Bad'"),
    (["--url", "https://x/", "--header", "X-Emoji: 😀"], "latin-1"),
    (["--url", "https://x/", "--header", "X-Long: " + "a" * 4097], "at most 4096"),
    (["--url", "https://x/", "--header", "X-A: 1", "--header", "x-a: 2"], "given twice"),
    (["--url", "https://x/", "--event", "dashboard.renamed"], "valid types: comment.added, dashboard.added"),
    (["--url", "ftp://x/"], "the scheme must be http or https"),
    (["--url", "https://user:pw@x/"], "credentials in the URL"),
    (["--url", "https:///nohost"], "it has no host"),
    (["--url", "https://x/", "--tenant", "bad tenant!"], "invalid tenant 'bad tenant!'"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(cli, add_sub, db_path, args, message):
    add_sub("https://example.com/existing")
    before = table_rows(db_path)
    if "--event" not in args:
        args = ["--event", "dashboard.updated", *args]
    if "--tenant" not in args:
        args = ["--tenant", "t1", *args]
    result = cli("add", *args)
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert table_rows(db_path) == before


def test_bad_input_on_fresh_machine_creates_no_database(cli, db_path):
    result = cli("add", "--tenant", "t1", "--event", "nope", "--url", "https://x/")
    assert result.exit_code == 2
    assert not db_path.exists()


def test_duplicate_subscription_is_refused_naming_the_existing_one(cli, add_sub):
    add_sub("https://example.com/h")
    result = cli("add", "--tenant", "t1", "--event", "dashboard.updated", "--url", "https://example.com/h")
    assert result.exit_code == 2
    assert "subscription 1 in t1 already sends dashboard.updated to https://example.com/h" in result.stderr
    assert add_sub("https://example.com/h", "dashboard.updated", "t2")["id"] == 2


def test_require_https(cli, config_path, db_path):
    config_path.write_text("[security]\nrequire_https = true\n")
    result = cli("add", "--tenant", "t1", "--event", "widget.added", "--url", "http://example.com/h")
    assert result.exit_code == 2 and "https is required" in result.stderr
    assert not db_path.exists()


def test_no_tenant_says_how_to_give_one(cli):
    result = cli("list")
    assert result.exit_code == 2
    assert "give --tenant NAME, set ALPANA_HOOKS_TENANT, or set default_tenant" in result.stderr


def test_disable_then_enable_shows_state(cli, add_sub):
    sub = add_sub("https://example.com/h")
    assert cli("disable", sub["id"], "--tenant", "t1").exit_code == 0
    listed = cli("list", "--tenant", "t1")
    assert "Disabled" in listed.stdout and "Active" not in listed.stdout
    assert cli.json("list", "--tenant", "t1", "--state", "disabled")[0]["id"] == sub["id"]
    assert cli.json("list", "--tenant", "t1", "--state", "active") == []
    assert cli("enable", sub["id"], "--tenant", "t1").exit_code == 0
    assert "Active" in cli("list", "--tenant", "t1").stdout


def test_edit_changes_url_and_event(cli, add_sub):
    sub = add_sub("https://example.com/h")
    edited = cli.json("edit", sub["id"], "--tenant", "t1", "--url", "https://example.com/new", "--event", "widget.updated",
                      "--description", "ops")
    assert (edited["url"], edited["event"], edited["description"]) == ("https://example.com/new", "widget.updated", "ops")
    assert cli("edit", sub["id"], "--tenant", "t1").exit_code == 2


def test_edit_to_an_existing_pair_is_refused(cli, add_sub):
    add_sub("https://example.com/a")
    second = add_sub("https://example.com/b")
    result = cli("edit", second["id"], "--tenant", "t1", "--url", "https://example.com/a")
    assert result.exit_code == 2 and "subscription 1 in t1 already sends" in result.stderr


def test_delete_needs_yes_without_terminal(cli, add_sub):
    sub = add_sub("https://example.com/h")
    result = cli("delete", sub["id"], "--tenant", "t1")
    assert result.exit_code == 2 and "needs --yes" in result.stderr
    assert len(cli.json("list", "--tenant", "t1")) == 1
    assert cli("delete", sub["id"], "--tenant", "t1", "--yes").exit_code == 0
    assert cli.json("list", "--tenant", "t1") == []


def test_headers_add_replaces_case_insensitively_and_remove(cli, add_sub):
    sub = add_sub("https://example.com/h", "dashboard.updated", "t1", "--header", "X-Token: a")
    cli.json("headers", "add", sub["id"], "x-token", "b", "--tenant", "t1")
    assert cli.json("headers", "list", sub["id"], "--tenant", "t1", "--reveal") == [{"name": "x-token", "value": "b"}]
    assert cli("headers", "add", sub["id"], "Content-Type", "text/plain", "--tenant", "t1").exit_code == 2
    assert cli.json("headers", "remove", sub["id"], "X-TOKEN", "--tenant", "t1") == []
    missing = cli("headers", "remove", sub["id"], "X-Token", "--tenant", "t1")
    assert missing.exit_code == 3 and "has no header 'X-Token'" in missing.stderr


def test_tenant_from_env_and_config(cli, config_path, monkeypatch):
    config_path.write_text('default_tenant = "fromfile"\n')
    assert cli.json("add", "--event", "widget.added", "--url", "https://e.com/")["tenant"] == "fromfile"
    monkeypatch.setenv("ALPANA_HOOKS_TENANT", "fromenv")
    assert cli.json("add", "--event", "widget.added", "--url", "https://e.com/")["tenant"] == "fromenv"
    assert cli.json("add", "-t", "fromflag", "--event", "widget.added", "--url", "https://e.com/")["tenant"] == "fromflag"


def test_untrusted_text_is_escaped_in_tables(cli, add_sub):
    add_sub("https://example.com/h", "dashboard.updated", "t1", "--description", "evil \x1b]0;pwned\x07 text")
    out = cli("list", "--tenant", "t1").stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07" in out


def test_help_lists_commands_and_every_command_has_help(cli):
    from alpana_hooks.cli.app import app
    from typer.main import get_command

    root = get_command(app)
    missing = []

    def walk(group, prefix):
        for name, command in group.commands.items():
            if not (command.help or "").strip():
                missing.append(prefix + name)
            if hasattr(command, "commands"):
                walk(command, prefix + name + " ")

    walk(root, "")
    assert missing == []
    assert "add" in cli("--help").stdout


def test_real_process_exit_codes(tmp_path):
    result = run_cli("show", "7", "--tenant", "t1")
    assert result.returncode == 3
    assert result.stderr.strip() == "error: subscription 7 not found in tenant t1"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [
    ["add", "--tenant", "t1", "--event", "widget.added", "--url", "https://e.com/", "--description", "bad \udcff"],
    ["events", "show", "evt_\udcff", "--tenant", "t1"],
    ["list", "--tenant", "t\udcff"],
])
def test_arguments_that_are_not_utf8_are_refused(cli, add_sub, db_path, args):
    add_sub("https://example.com/h")
    before = table_rows(db_path)
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "is not valid UTF-8" in result.stderr
    assert table_rows(db_path) == before


def test_tenants_lists_the_tenants_with_subscriptions_or_events(cli, add_sub):
    assert cli("tenants").stderr.strip() == "no tenants yet: add a subscription with `alpana-hooks add -t TENANT …`"
    add_sub("https://e.com/b", tenant="beta")
    add_sub("https://e.com/a", tenant="alpha")
    cli("emit", "widget.deleted", "--tenant", "gamma", "--id", "1", "--name", "W")
    result = cli("tenants")
    assert (result.exit_code, result.stdout) == (0, "alpha\nbeta\ngamma\n")
    assert cli.json("tenants") == ["alpha", "beta", "gamma"]


@pytest.mark.parametrize("spelling", ["https://x.example", "HTTPS://X.EXAMPLE/", "https://x.example:443/",
                                      "https://X.Example:443"])
def test_urls_are_stored_normalised_and_one_endpoint_is_one_subscription(cli, add_sub, spelling):
    """Issue 13 point 11: scheme and host case, the default port and an empty path do not make another endpoint."""
    first = add_sub(spelling)
    assert first["url"] == "https://x.example/"
    for other in ("https://x.example", "HTTPS://X.EXAMPLE/", "https://x.example:443/", "https://X.Example:443"):
        result = cli("add", "--tenant", "t1", "--event", "dashboard.updated", "--url", other)
        assert (result.exit_code, result.stderr) == (
            2, f"error: subscription 1 in t1 already sends dashboard.updated to https://x.example/\n")
    assert [s["url"] for s in cli.json("list", "--tenant", "t1")] == ["https://x.example/"]


def test_normalising_keeps_path_query_and_other_ports(cli, add_sub):
    assert add_sub("HTTP://Hooks.Example:8080/A/b?Q=1")["url"] == "http://hooks.example:8080/A/b?Q=1"
    assert add_sub("https://[2001:DB8::1]:443")["url"] == "https://[2001:db8::1]/"
    assert add_sub("http://x.example:443/")["url"] == "http://x.example:443/"  # 443 is not http's default


def test_a_row_stored_before_normalisation_still_counts_as_the_same_endpoint(cli, add_sub, db_path):
    import sqlite3

    add_sub("https://x.example/h")
    with sqlite3.connect(db_path) as conn:  # as an older version stored it
        conn.execute("UPDATE subscriptions SET url = 'HTTPS://X.EXAMPLE:443/h'")
    result = cli("add", "--tenant", "t1", "--event", "dashboard.updated", "--url", "https://x.example/h")
    assert result.exit_code == 2 and "subscription 1 in t1 already sends" in result.stderr
    second = add_sub("https://x.example/other")
    result = cli("edit", second["id"], "--tenant", "t1", "--url", "https://X.example:443/h")
    assert result.exit_code == 2 and "subscription 1 in t1 already sends" in result.stderr


def test_a_command_on_a_tenant_that_has_nothing_warns_naming_the_known_ones(cli, add_sub):
    """Issue 13 point 16: a mistyped --tenant is told apart from an empty one, on stderr (stdout stays data)."""
    add_sub("https://e.com/a", tenant="acme")
    warning = "warning: tenant acmee has no subscriptions or events (known tenants: acme)\n"
    for command, empty in ((["list"], "no subscriptions in acmee\n"), (["attempts", "list"], "no send attempts in acmee\n"),
                           (["events", "list"], "no events in acmee\n"),
                           (["resend", "--failed", "--dry-run"], "nothing to resend\n")):
        result = cli(*command, "--tenant", "acmee")
        assert (result.exit_code, result.stdout, result.stderr) == (0, "", warning + empty), command
        result = cli(*command, "--tenant", "acmee", "--json")
        nothing = [] if command[0] != "resend" else {"dry_run": True, "sent": 0, "succeeded": 0, "failed": 0,
                                                       "attempts": []}
        assert (result.exit_code, json.loads(result.stdout), result.stderr) == (0, nothing, warning), command
    result = cli("list", "--tenant", "acme", "--state", "disabled")  # a known tenant with nothing that matches
    assert (result.exit_code, result.stderr) == (0, "no subscriptions in acme\n")
