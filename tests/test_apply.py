"""Subscriptions as code: export writes TOML, apply makes the store match it (plan, dry run, prune)."""

import json
import sys
from pathlib import Path

import pytest

from conftest import table_rows
from hypothesis import given
from hypothesis import strategies as st

from alpana_hooks import apply as plans

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "subscriptions.toml"
EXAMPLE_SUBS = [
    ("dashboard.updated", "https://hooks.example.com/bi", "BI sync", "active"),
    ("widget.added", "https://hooks.example.com/widgets", "Widget catalog", "disabled"),
    ("comment.added", "https://chat.example.com/alpana", "", "active"),
]


@pytest.fixture
def env(monkeypatch):
    """The variables examples/subscriptions.toml needs."""
    monkeypatch.setenv("BI_TOKEN", "tok-123")
    monkeypatch.setenv("CHAT_API_KEY", "chat-456")


def apply_json(cli, *args):
    """Run apply --json and return its plan entries."""
    result = cli("apply", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def summary(cli, tenant, *extra):
    """The tenant's subscriptions without ids and times, headers revealed: what a file describes."""
    subs = cli.json("list", "--tenant", tenant, *extra)
    return [
        (s["event"], s["url"], s["description"], s["state"],
         cli.json("headers", "list", s["id"], "--tenant", tenant, "--reveal", *extra))
        for s in subs
    ]


def edited_example(tmp_path, old, new, name="edited.toml"):
    """A copy of the example with one text replaced."""
    text = EXAMPLE.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


# -- the CLI -------------------------------------------------------------------------------------

def test_apply_example_creates_its_subscriptions(cli, env):
    result = cli("apply", EXAMPLE)
    assert result.exit_code == 0, result.stderr
    assert "whsec_" not in result.stdout + result.stderr
    assert "secret show" in result.stderr
    assert "acme: 3 created, 0 updated, 0 unchanged, 0 deleted." in result.stderr
    subs = cli.json("list", "--tenant", "acme")
    assert [(s["event"], s["url"], s["description"], s["state"]) for s in subs] == EXAMPLE_SUBS
    headers = [cli.json("headers", "list", s["id"], "--tenant", "acme", "--reveal") for s in subs]
    assert headers == [
        [{"name": "Authorization", "value": "Bearer tok-123"}, {"name": "X-Team", "value": "analytics"}],
        [],
        [{"name": "X-Api-Key", "value": "chat-456"}],
    ]
    assert len(cli.json("secret", "show", subs[0]["id"], "--tenant", "acme")) == 1


def test_second_apply_is_unchanged_and_writes_nothing(cli, env, db_path):
    first = apply_json(cli, EXAMPLE)
    assert [e["action"] for e in first] == ["create"] * 3
    before = table_rows(db_path)
    second = apply_json(cli, EXAMPLE)
    assert second == [{"action": "unchanged", "id": e["id"], "event": e["event"], "url": e["url"], "changes": []}
                      for e in first]
    assert table_rows(db_path) == before


def test_edited_description_updates_only_that_subscription(cli, env, db_path, tmp_path):
    apply_json(cli, EXAMPLE)
    before = cli.json("list", "--tenant", "acme")
    edited = edited_example(tmp_path, 'description = "Widget catalog"', 'description = "Widgets v2"')
    plan = apply_json(cli, edited)
    assert [e["action"] for e in plan] == ["unchanged", "update", "unchanged"]
    assert plan[1]["changes"] == ["description 'Widget catalog' -> 'Widgets v2'"]
    after = cli.json("list", "--tenant", "acme")
    assert after[1]["description"] == "Widgets v2"
    assert after[1]["updated_at"] != before[1]["updated_at"]
    assert [after[0], after[2]] == [before[0], before[2]]


def test_header_and_state_changes_are_applied(cli, env, tmp_path):
    apply_json(cli, EXAMPLE)
    edited = edited_example(tmp_path, 'X-Team = "analytics"', 'x-team = "finance"')
    edited.write_text(edited.read_text().replace('state = "disabled"', 'state = "active"')
                      .replace('Authorization = "Bearer ${BI_TOKEN}"\n', ""))
    plan = apply_json(cli, edited)
    assert [e["changes"] for e in plan] == [["header x-team changed", "header Authorization removed"],
                                            ["state disabled -> active"], []]
    subs = cli.json("list", "--tenant", "acme")
    assert subs[1]["state"] == "active"
    assert cli.json("headers", "list", subs[0]["id"], "--tenant", "acme") == [{"name": "x-team", "value": "finance"}]
    assert [e["action"] for e in apply_json(cli, edited)] == ["unchanged"] * 3


def test_prune_deletes_unlisted_and_without_it_they_stay(cli, env, add_sub):
    extra = add_sub("https://other.example.com/x", "widget.deleted", "acme")
    add_sub("https://other.example.com/x", "widget.deleted", "t2")
    result = cli("apply", EXAMPLE)
    assert result.exit_code == 0, result.stderr
    assert f"not in the file were kept (ids {extra['id']})" in result.stderr
    assert extra["id"] in [s["id"] for s in cli.json("list", "--tenant", "acme")]
    plan = apply_json(cli, EXAMPLE, "--prune", "--yes")
    assert [e["action"] for e in plan] == ["unchanged"] * 3 + ["delete"]
    assert plan[-1]["id"] == extra["id"]
    assert extra["id"] not in [s["id"] for s in cli.json("list", "--tenant", "acme")]
    assert len(cli.json("list", "--tenant", "t2")) == 1


def test_dry_run_writes_nothing(cli, env, add_sub, db_path, tmp_path):
    apply_json(cli, EXAMPLE)
    add_sub("https://other.example.com/x", "widget.deleted", "acme")
    edited = edited_example(tmp_path, 'description = "BI sync"', 'description = "BI"')
    new = '\n[[subscription]]\nevent = "widget.updated"\nurl = "https://n.example.com"\n'
    edited.write_text(edited.read_text() + new)
    before = table_rows(db_path)
    result = cli("apply", edited, "--prune", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert sorted(row.split("\t")[0] for row in result.stdout.splitlines()) == ["create", "delete", "unchanged", "unchanged", "update"]
    assert "acme: 1 to create, 1 to update, 2 unchanged, 1 to delete; dry run: nothing was written." in result.stderr
    plan = apply_json(cli, edited, "--prune", "--dry-run")
    assert [e["action"] for e in plan] == ["update", "unchanged", "unchanged", "create", "delete"]
    assert plan[3]["id"] is None
    assert table_rows(db_path) == before


@pytest.mark.sqlite_only  # file parsing and output, not the store
def test_export_masks_sensitive_values_unless_reveal(cli, env):
    apply_json(cli, EXAMPLE)
    result = cli("export", "--tenant", "acme")
    assert result.exit_code == 0, result.stderr
    assert "tok-123" not in result.stdout and "chat-456" not in result.stdout and "whsec_" not in result.stdout
    assert 'Authorization = "${ALPANA_AUTHORIZATION}"' in result.stdout
    assert 'X-Api-Key = "${ALPANA_X_API_KEY}"' in result.stdout
    assert 'X-Team = "analytics"' in result.stdout
    assert "ALPANA_AUTHORIZATION, ALPANA_X_API_KEY" in result.stderr
    revealed = tomllib.loads(cli("export", "--tenant", "acme", "--reveal").stdout)
    assert revealed["subscription"][0]["headers"] == {"Authorization": "Bearer tok-123", "X-Team": "analytics"}
    assert cli.json("export", "--tenant", "acme", "--reveal") == revealed


@pytest.mark.sqlite_only  # file parsing and output, not the store
def test_export_warns_when_one_placeholder_stands_for_two_values(cli, add_sub):
    add_sub("https://a.example.com", "widget.added", "t1", "-H", "Authorization: one")
    add_sub("https://b.example.com", "widget.added", "t1", "-H", "Authorization: two")
    result = cli("export", "--tenant", "t1")
    assert "warning: ${ALPANA_AUTHORIZATION} stands for 2 different values" in result.stderr


def test_export_then_apply_round_trips_to_a_fresh_db_and_another_tenant(cli, add_sub, monkeypatch, tmp_path):
    tricky = 'say "hi" \\ back\\slash\ttab\nline é 😀 \u202e ${NOT_A_VAR}'
    add_sub("https://a.example.com/x?q=1", "widget.added", "t1", "--description", tricky,
            "-H", "Authorization: Bearer s3", "-H", "X.Dotted: a${b}c $$ d", "--disabled")
    add_sub("https://b.example.com", "datasource.deleted", "t1")
    monkeypatch.setenv("ALPANA_AUTHORIZATION", "Bearer s3")
    exported = cli("export", "--tenant", "t1")
    assert exported.exit_code == 0, exported.stderr
    assert "\u202e" not in exported.stdout and "\\u202E" in exported.stdout
    path = tmp_path / "t1.toml"
    path.write_text(exported.stdout)
    fresh = tmp_path / "fresh.db"
    assert [e["action"] for e in apply_json(cli, path, "--db", fresh)] == ["create", "create"]
    assert summary(cli, "t1", "--db", fresh) == summary(cli, "t1")
    other = tmp_path / "t2.toml"
    other.write_text(exported.stdout.replace('tenant = "t1"', 'tenant = "t2"'))
    apply_json(cli, other)
    assert summary(cli, "t2") == summary(cli, "t1")
    assert [e["action"] for e in apply_json(cli, path)] == ["unchanged", "unchanged"]


def test_apply_reads_stdin_and_takes_tenant_from_flag(cli, env):
    text = EXAMPLE.read_text().replace('tenant = "acme"', "")
    result = cli("apply", "-", "--tenant", "t9", "--json", input=text)
    assert result.exit_code == 0, result.stderr
    assert len(cli.json("list", "--tenant", "t9")) == 3


def test_missing_variable_names_it_and_writes_nothing(cli, env, add_sub, db_path, monkeypatch):
    add_sub("https://other.example.com/x", "widget.deleted", "acme")
    monkeypatch.delenv("CHAT_API_KEY")
    before = table_rows(db_path)
    result = cli("apply", EXAMPLE, "--prune")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {EXAMPLE}: environment variable CHAT_API_KEY is not set or empty "
                             "(subscription #3, header 'X-Api-Key'); nothing was applied\n")
    assert table_rows(db_path) == before


@pytest.mark.sqlite_only  # file parsing and output, not the store
def test_empty_variable_counts_as_missing(cli, env, monkeypatch, db_path):
    monkeypatch.setenv("BI_TOKEN", "")
    monkeypatch.delenv("CHAT_API_KEY")
    result = cli("apply", EXAMPLE)
    assert result.exit_code == 2
    assert "environment variables BI_TOKEN, CHAT_API_KEY are not set or empty" in result.stderr
    assert not db_path.exists()


SUB = '[[subscription]]\nevent = "widget.added"\nurl = "https://x.example.com"\n'


@pytest.mark.sqlite_only  # file parsing and output, not the store
@pytest.mark.parametrize("text, message", [
    ("tenant = ", "invalid TOML"),
    ('tenat = "acme"\n', "unknown key 'tenat' (known keys: tenant, subscription)"),
    ("tenant = 3\n", "key 'tenant' must be a string"),
    ('tenant = "bad tenant"\n', "key 'tenant': invalid tenant"),
    ('[subscription]\nevent = "widget.added"\n', "'subscription' must be an array of tables"),
    (SUB + 'evnet = "x"\n', "subscription #1: unknown key 'evnet'"),
    ('[[subscription]]\nurl = "https://x.example.com"\n', "subscription #1: key 'event' is missing"),
    (SUB + "description = 3\n", "subscription #1, key 'description': must be a string, not 3"),
    (SUB + 'state = "paused"\n', "subscription #1, key 'state': 'paused' is not active or disabled"),
    (SUB + '[[subscription]]\nevent = "widget.renamed"\nurl = "https://y.example.com"\n',
     "subscription #2, key 'event': unknown event type 'widget.renamed'"),
    ('[[subscription]]\nevent = "widget.added"\nurl = "ftp://x.example.com"\n',
     "subscription #1, key 'url': invalid URL 'ftp://x.example.com': the scheme must be http or https"),
    (SUB + "headers = 3\n", "subscription #1, key 'headers': must be a table"),
    (SUB + '[subscription.headers]\n"X Bad" = "v"\n', "key 'headers.X Bad': invalid header name"),
    (SUB + '[subscription.headers]\nHost = "v"\n', "key 'headers.Host': header 'Host' is set by alpana-hooks"),
    (SUB + '[subscription.headers]\nX-A = "a\\nb"\n', "key 'headers.X-A': invalid value for header 'X-A'"),
    (SUB + '[subscription.headers]\nX-A = "1"\nx-a = "2"\n', "key 'headers': header 'x-a' is given twice"),
    (SUB + '[subscription.headers]\nX-A = "${A-B}"\n', "key 'headers.X-A': invalid placeholder"),
    (SUB + SUB, "subscription #2 repeats subscription #1 (widget.added -> https://x.example.com/)"),
])
def test_invalid_file_is_one_line_exit_2_and_writes_nothing(cli, add_sub, db_path, tmp_path, text, message):
    add_sub("https://keep.example.com")
    before = table_rows(db_path)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = cli("apply", path, "--tenant", "t1", "--prune")
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith(f"error: {path}: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert table_rows(db_path) == before


@pytest.mark.sqlite_only  # file parsing and output, not the store
@pytest.mark.parametrize("args, message", [
    (["--tenant", "other"], "the file is for tenant 'acme' but --tenant is 'other'"),
    (["--db", "/dev/null/x.db", "--tenant", "acme", "--config", "/nonexistent.toml"], "config /nonexistent.toml"),
])
def test_tenant_or_config_conflicts_exit_2(cli, env, args, message, db_path):
    result = cli("apply", EXAMPLE, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not db_path.exists()


@pytest.mark.sqlite_only  # file parsing and output, not the store
def test_missing_file_exits_2(cli, tmp_path):
    result = cli("apply", tmp_path / "nope.toml", "--tenant", "t1")
    assert result.exit_code == 2
    assert result.stderr == f"error: cannot read subscriptions file '{tmp_path / 'nope.toml'}': No such file or directory\n"


# -- the pure planner ----------------------------------------------------------------------------

def store_sub(sub_id, event="widget.added", url="https://x", description="", state="active", headers=()):
    """A subscription as Store.list_subscriptions returns it."""
    from alpana_hooks.model import State, Subscription

    return Subscription(id=sub_id, tenant="t1", event_type=event, url=url, description=description,
                        state=State(state), disabled_reason=None, disabled_at=None, failing_since=None,
                        created_at="", updated_at="", headers=tuple(headers))


def test_plan_compares_header_names_case_insensitively():
    current = [store_sub(1, headers=[("x-team", "a"), ("X-Old", "o")])]
    same = plans.Desired("widget.added", "https://x", headers=(("X-Team", "a"), ("x-old", "o")))
    assert plans.plan([same], current) == [plans.Step("unchanged", "widget.added", "https://x", sub_id=1)]
    changed = plans.Desired("widget.added", "https://x", headers=(("X-Team", "b"), ("X-New", "n")))
    [step] = plans.plan([changed], current)
    assert step.action == "update"
    assert step.set_headers == (("X-Team", "b"), ("X-New", "n"))
    assert step.remove_headers == ("X-Old",)
    assert step.changes == ("header X-Team changed", "header X-New added", "header X-Old removed")
    assert step.description is None and step.state is None


def test_plan_identity_is_event_and_url_and_prune_is_opt_in():
    current = [store_sub(1), store_sub(2, url="https://old")]
    wanted = [plans.Desired("widget.added", "https://x", state="disabled"),
              plans.Desired("widget.deleted", "https://old")]
    assert [(s.action, s.sub_id, s.state) for s in plans.plan(wanted, current)] == [
        ("update", 1, "disabled"), ("create", None, "active")]
    assert [(s.action, s.sub_id) for s in plans.plan(wanted, current, prune=True)][-1] == ("delete", 2)
    assert plans.unlisted(wanted, current) == [current[1]]


def test_parse_expands_variables_and_literal_dollar_braces():
    text = SUB + '[subscription.headers]\nAuthorization = "Bearer ${T}"\nX-Lit = "$${T} ${U}"\n'
    parsed = plans.parse(text, "f.toml", env={"T": "t", "U": "u"}, require_https=False)
    assert parsed.subscriptions[0].headers == (("Authorization", "Bearer t"), ("X-Lit", "${T} u"))


def test_parse_honours_require_https():
    with pytest.raises(plans.UsageError, match="https is required"):
        plans.parse(SUB.replace("https", "http"), "f.toml", env={}, require_https=True)


@given(st.text())
def test_quote_round_trips_through_tomllib(text):
    assert tomllib.loads(f"k = {plans.quote(text)}")["k"] == text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_exported_header_values_round_trip(value):
    doc = plans.export_document("t", [store_sub(1, headers=[("X-Any", value)])])
    raw = tomllib.loads(plans.to_toml(doc))["subscription"][0]["headers"]["X-Any"]
    assert plans.expand(raw, {}, {}, "here") == value


@pytest.mark.sqlite_only  # file parsing and output, not the store
def test_apply_from_stdin_that_is_not_utf8_is_bad_input(cli, db_path):
    from alpana_hooks.cli.app import app

    result = cli.runner.invoke(app, ["apply", "-", "--tenant", "t1"], input=b'tenant = "t1"\n# caf\xe9\n')
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert table_rows(db_path) is None


def test_apply_matches_urls_normalised(cli, add_sub, tmp_path):
    """Issue 13 point 11: a file spelling the stored URL differently updates it, it does not add a second one."""
    sub = add_sub("https://hooks.example.com/bi", "dashboard.updated", "acme")
    path = tmp_path / "subs.toml"
    path.write_text('tenant = "acme"\n[[subscription]]\nevent = "dashboard.updated"\n'
                    'url = "HTTPS://Hooks.Example.com:443/bi"\n')
    plan = apply_json(cli, path, "--prune", "--yes")
    assert plan == [{"action": "unchanged", "id": sub["id"], "event": "dashboard.updated",
                     "url": "https://hooks.example.com/bi", "changes": []}]
    path.write_text(path.read_text() + '[[subscription]]\nevent = "dashboard.updated"\nurl = "https://hooks.example.com:443/bi"\n')
    result = cli("apply", path)
    assert result.exit_code == 2 and "subscription #2 repeats subscription #1" in result.stderr
