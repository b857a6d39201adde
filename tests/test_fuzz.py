"""Bad input, generated: whatever header, URL, tenant, duration, config file or --data payload comes in, the
CLI exits 0 or 2, never with a traceback; a refusal is one "error: " line on stderr and leaves the database
exactly as it was (or not created at all)."""

import itertools
import json
import re
import sqlite3
import string
import traceback
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from event_schema import schema_problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from alpana_hooks import events
from alpana_hooks.cli.app import app
from alpana_hooks.config import load_settings

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
RUNNER = CliRunner()
FRESH = itertools.count()

# -- strategies -------------------------------------------------------------------------------------

SEPARATORS = [":", ": ", "::", "\r\n", "\n", "\r", "\x00", "\t", " ", "=", "#", "@", "/", "//", "\\", '"', "'",
              "[", "]", "{", "}", ",", ".", "..", "%", "%00", "?", "&", "\x1b[31m", "\x7f", "\x85", "\u2028",
              "\u202e", "\ufeff", "é", "ÿ", "\u0100", "𝔘", "٣", "-", "--", "_"]
# Invalid UTF-8 bytes in argv reach Python as lone surrogates U+DC80..U+DCFF (surrogateescape).
ARGV_SURROGATE = st.integers(0xDC80, 0xDCFF).map(chr)
PIECE = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(codec="ascii"), max_size=12),
    st.text(string.ascii_letters + string.digits, min_size=1, max_size=12),
    st.sampled_from(SEPARATORS),
    ARGV_SURROGATE,
    st.integers(1, 6000).map(lambda n: "a" * n),
)
NASTY = st.lists(PIECE, max_size=6).map("".join)


# -- running the CLI and checking the contract ----------------------------------------------------------

def dump(db) -> dict | None:
    """Every row of every table (None when there is no database file)."""
    if not db.exists():
        return None
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        rows = {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
        rows["PRAGMA user_version"] = conn.execute("PRAGMA user_version").fetchall()
        return rows
    finally:
        conn.close()


def invoke(args: list[str], db, env: dict | None = None):
    """Run the CLI in-process; exit 0 or 2 only, no traceback, and a refusal is one line that wrote nothing."""
    before = dump(db)
    result = RUNNER.invoke(app, args, env=env, catch_exceptions=True)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, "".join(traceback.format_exception(result.exception))
    assert result.exit_code in (0, 2), (args, result.exit_code, result.stderr)
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        assert dump(db) == before, args
    return result


def fresh_db(tmp_path):
    return tmp_path / f"fresh-{next(FRESH)}.db"


def pick_db(data, db_path, tmp_path):
    """The shared database, or a path with no file yet (then a refusal must not create it)."""
    return db_path if data.draw(st.booleans(), label="existing db") else fresh_db(tmp_path)


# -- independent oracles for what may be accepted ------------------------------------------------------

TCHAR = set("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)
RESERVED = {"host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection",
            "keep-alive", "te", "trailer", "trailers", "upgrade", "expect", "user-agent", "accept-encoding"}


def sendable_header(name: str, value: str) -> bool:
    lower = name.lower()
    return (bool(name) and set(name) <= TCHAR and lower not in RESERVED
            and not lower.startswith(("proxy-", "webhook-"))
            and not any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F or ord(c) > 0xFF for c in value)
            and len(value) <= 4096 and value == value.strip(" \t"))


def good_url(url: str) -> bool:
    parts = urlsplit(url)
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and parts.username is None
            and parts.password is None and not parts.fragment
            and not any(ord(c) <= 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in url))


def good_tenant(name: str) -> bool:
    allowed = set(string.ascii_letters + string.digits + "_.-")
    return 1 <= len(name) <= 64 and name[0] in string.ascii_letters + string.digits and set(name) <= allowed


# -- headers, URLs, tenants ------------------------------------------------------------------------------

HEADER_NAME = st.one_of(NASTY, st.sampled_from(["X-Api-Key", "Authorization", "Host", "webhook-id", "Proxy-Auth",
                                                "content-type", "X-Team", "X Team", "X:Team", ""]),
                        st.text(sorted(TCHAR), min_size=1, max_size=20))
HEADER_VALUE = st.one_of(NASTY, st.text(st.characters(max_codepoint=0xFF), max_size=30),
                         st.integers(4090, 4100).map(lambda n: "v" * n))
HEADER_LINE = st.one_of(NASTY, st.tuples(HEADER_NAME, st.sampled_from([":", ": ", " : ", "::", "="]), HEADER_VALUE)
                        .map("".join))


@pytest.fixture
def seeded(cli, db_path):
    """The shared database, with subscription 1 and one for each event type (run once per test, not per example)."""
    cli.json("add", "--tenant", "t1", "--event", "widget.added", "--url", "http://127.0.0.1:9/base",
             "--header", "X-Team: bi")
    for event_type in events.EVENT_TYPES:
        cli.json("add", "--tenant", "t1", "--event", event_type, "--url", "http://127.0.0.1:9/e")
    return db_path


@FUZZ
@given(data=st.data())
def test_add_header(seeded, db_path, tmp_path, data):
    headers = data.draw(st.lists(HEADER_LINE, min_size=1, max_size=3), label="headers")
    db = pick_db(data, db_path, tmp_path)
    url = f"http://127.0.0.1:9/h{next(FRESH)}"
    as_json = data.draw(st.booleans(), label="json")
    result = invoke(["add", "--tenant=t1", "--event=widget.added", f"--url={url}",
                     *[f"--header={h}" for h in headers], *(["--json"] if as_json else [])], db,
                    env={"ALPANA_HOOKS_DB": str(db)})
    if result.exit_code == 0:
        conn = sqlite3.connect(db)
        stored = conn.execute("SELECT h.name, h.value FROM subscription_headers h JOIN subscriptions s"
                              " ON s.id = h.subscription_id WHERE s.url = ?", (url,)).fetchall()
        conn.close()
        assert len(stored) == len(headers) and all(sendable_header(n, v) for n, v in stored), stored
        assert len({n.lower() for n, _ in stored}) == len(stored)


URL = st.one_of(
    NASTY,
    st.tuples(st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "http:/", "//", "", "javascript:",
                               "http://user:pw@", "https://@", "http://["]),
              st.one_of(st.sampled_from(["127.0.0.1", "example.com", "[::1]", "exämple.com", "a", "", "127.1",
                                         "host:99999", "host:-1", "host:x", "[::1", "ex ample.com"]), NASTY),
              st.sampled_from(["", "/", "/p", "/p?q=1", "#frag", "/p#", "/%00", "?"]), NASTY).map("".join),
    st.tuples(st.sampled_from(["http://127.0.0.1:9/", "https://example.com", "http://h/p?q="]),
              st.lists(ARGV_SURROGATE | st.characters(min_codepoint=0x21), max_size=4).map("".join)).map("".join),
)


@FUZZ
@given(data=st.data())
def test_add_url(seeded, db_path, tmp_path, data):
    url = data.draw(URL, label="url")
    db = pick_db(data, db_path, tmp_path)
    as_json = data.draw(st.booleans(), label="json")
    result = invoke(["add", "--tenant=t1", "--event=widget.deleted", f"--url={url}",
                     *(["--json"] if as_json else [])], db, env={"ALPANA_HOOKS_DB": str(db)})
    if result.exit_code == 0:
        conn = sqlite3.connect(db)
        stored = conn.execute("SELECT url FROM subscriptions ORDER BY id DESC LIMIT 1").fetchone()[0]
        conn.close()
        assert good_url(url) and stored == normal_form(url), (url, stored)


def normal_form(url: str) -> str:
    """The one spelling subscriptions are stored in (README): scheme and host lower case, no default port, an
    empty path as `/`; path and query as given (an empty query dropped)."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    port = "" if parts.port in (None, default) else f":{parts.port}"
    query = f"?{parts.query}" if parts.query else ""  # an empty `?` says nothing
    return f"{parts.scheme.lower()}://{host}{port}{parts.path or '/'}{query}"


TENANT = st.one_of(NASTY, st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,70}", fullmatch=True),
                   st.sampled_from(["t1", "", "-t", ".", "a" * 64, "a" * 65, "t 1", "t/1", "T1\n", "ｔ1"]))


@FUZZ
@given(data=st.data())
def test_tenant(seeded, db_path, tmp_path, data):
    tenant = data.draw(TENANT, label="tenant")
    db = pick_db(data, db_path, tmp_path)
    env = {"ALPANA_HOOKS_DB": str(db)}
    command = data.draw(st.sampled_from([
        ["add", "--event=widget.added", f"--url=http://127.0.0.1:9/t{next(FRESH)}", "--json"],
        ["list", "--json"], ["list"], ["events", "list", "--json"], ["attempts", "list"],
        ["emit", "widget.deleted", "--id=1", "--name=W", "--no-send", "--json"],
        ["resend", "--failed", "--dry-run", "--json"], ["export"],
    ]), label="command")
    if data.draw(st.booleans(), label="from env") and "\x00" not in tenant:
        env["ALPANA_HOOKS_TENANT"] = tenant
        result = invoke(command, db, env=env)
    else:
        result = invoke([*command, f"--tenant={tenant}"], db, env=env)
    if result.exit_code == 0:
        assert good_tenant(tenant), tenant


# -- durations -------------------------------------------------------------------------------------------

OFFSETS = st.integers(-24 * 60 + 1, 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
DURATION = st.one_of(
    NASTY,
    st.tuples(NASTY, st.sampled_from(["5m", "1h30m", "2d"]), NASTY).map("".join),
    st.from_regex(r"\s?[0-9]{1,22}[smhdwSMHDW]([0-9]{1,22}[smhdw])?\s?", fullmatch=True),
    st.sampled_from(["", "0s", "5m", "1h30m", "-5m", "5", "5 m", "m", "1.5h", "٣h", "5mm", "2h ", "1y",
                     "999999999d", "1000000000d", "100000000000000000000w", "0x10s"]),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.none() | OFFSETS)
    .map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2026-11-28Z", "2026-02-30"]),
)


@FUZZ
@given(data=st.data())
def test_durations(seeded, db_path, tmp_path, data):
    value = data.draw(DURATION, label="duration")
    command = data.draw(st.sampled_from([
        ["attempts", "prune", "--tenant=t1", "--json", "--yes", "--older-than={}"],
        ["resend", "--failed", "--dry-run", "--tenant=t1", "--json", "--since={}"],
        ["resend", "--failed", "--yes", "--tenant=t1", "--since={}"],
        ["attempts", "list", "--tenant=t1", "--since={}"],
        ["events", "list", "--tenant=t1", "--json", "--since={}"],
        ["secret", "rotate", "1", "--tenant=t1", "--json", "--grace={}"],
    ]), label="command")
    db = db_path if command[0] == "secret" else pick_db(data, db_path, tmp_path)
    result = invoke([arg.replace("{}", value) for arg in command], db, env={"ALPANA_HOOKS_DB": str(db)})
    if result.exit_code == 0:  # a duration (a number and a unit, repeated), or with --since a time
        assert re.fullmatch(r"(?:\d+[smhdw])+", value.strip().lower()) or (
            "--since={}" in command and datetime.fromisoformat(value.strip().replace("Z", "+00:00"))), value


# -- config files ----------------------------------------------------------------------------------------

KNOWN_KEYS = ["database", "default_tenant", "server_url", "timeout_seconds", "connect_timeout_seconds",
              "max_response_bytes", "concurrency", "retry_schedule", "disable_after", "user_agent",
              "allowed_networks", "require_https"]
TOML_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
TOML_LEAF = st.one_of(
    TOML_TEXT, st.integers(), st.integers(-2**63, 2**63 - 1), st.floats(), st.booleans(),
    st.sampled_from(["5s", "1h30m", "999999999999999d", "x", "", "127.0.0.0/8", "::1/128", "300.0.0.0/8",
                     "https://bi.example.com/", "t1", 0, -1, 0.0, 1e-300, 1e308, float("inf"), float("nan"), 10**30]),
)
TOML_VALUE = st.recursive(TOML_LEAF, lambda c: st.lists(c, max_size=3) | st.dictionaries(TOML_TEXT, c, max_size=2),
                          max_leaves=5)
SECTION = st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), TOML_TEXT), TOML_VALUE, max_size=4)
DURATION_TEXT = st.one_of(st.sampled_from(["5s", "1h30m", "0s", "36500d", "36501d", "99999999999999999999w", "5 m",
                                           "soon", ""]), st.from_regex(r"[0-9]{1,20}[smhdw]", fullmatch=True))
PLAUSIBLE_SETTING = {
    "database": TOML_TEXT, "default_tenant": TOML_TEXT, "server_url": TOML_TEXT, "user_agent": TOML_TEXT,
    "timeout_seconds": st.sampled_from([float("inf"), float("nan"), 1e308, 1e9, 1e-9, 15]) | st.floats() | st.integers(),
    "connect_timeout_seconds": st.sampled_from([float("inf"), float("nan"), 1e308, 5]) | st.floats() | st.integers(),
    "max_response_bytes": st.sampled_from([2**63, 10**30, 20000]) | st.integers(),
    "concurrency": st.sampled_from([2**63, 10**30, 10**6, 8]) | st.integers(),
    "retry_schedule": st.lists(DURATION_TEXT, max_size=4), "disable_after": DURATION_TEXT,
    "allowed_networks": st.lists(st.sampled_from(["127.0.0.0/8", "::1/128", "10.0.0.0/33", "x", ""]) | TOML_TEXT,
                                 max_size=3),
    "require_https": st.booleans(),
}


@st.composite
def shaped_config(draw) -> dict:
    """The real sections and keys, each value of about the right type (now and then of any)."""
    document = {}
    for section, keys in (("", KNOWN_KEYS[:3]), ("delivery", KNOWN_KEYS[3:10]), ("security", KNOWN_KEYS[10:])):
        chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=3))
        document[section] = {k: draw(TOML_VALUE if draw(st.integers(0, 5)) == 0 else PLAUSIBLE_SETTING[k])
                             for k in chosen}
    return document


DOCUMENT = st.dictionaries(st.sampled_from(["", "delivery", "security", "server", "delivery.extra"]) | TOML_TEXT,
                           SECTION, max_size=3)


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else
                                             "-inf" if value == float("-inf") else repr(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def toml_document(document: dict) -> str:
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in document.get("", {}).items()]
    for section, values in document.items():
        if section:
            lines.append(f"[{'.'.join(toml_key(part) for part in section.split('.'))}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


TOML_LINE = st.one_of(NASTY, st.sampled_from(["[delivery]", "[security]", "[delivery", "timeout_seconds = ",
                                              "concurrency = 0", 'retry_schedule = ["5s"', "= 1", "a.b = 1"]))
CONFIG = st.one_of(
    shaped_config().map(toml_document).map(str.encode),
    st.one_of(DOCUMENT.map(toml_document).map(str.encode),
              st.lists(TOML_LINE, max_size=6).map("\n".join).map(lambda s: s.encode("utf-8", "surrogateescape")),
              st.binary(max_size=60)),
)


@settings(FUZZ)
@given(data=st.data())
def test_config_file(seeded, db_path, tmp_path, data):
    config = tmp_path / "fuzz.toml"
    config.write_bytes(data.draw(CONFIG, label="config"))
    db = pick_db(data, db_path, tmp_path)
    for command in (["config", "show", "--json"], ["config", "show"], ["list", "--tenant=t1", "--json"],
                    ["deliver", "--json"]):  # deliver turns the [delivery] settings into timings and a pool
        result = invoke([*command, f"--config={config}", f"--db={db}"], db)
    if result.exit_code == 0:  # an accepted file gives settings of the right types and ranges
        found = load_settings(config=str(config), db=str(db), tenant="t1")
        assert all(isinstance(getattr(found, k), str) for k in ("user_agent",))
        assert found.server_url is None or isinstance(found.server_url, str)
        assert all(isinstance(v, float) and 0 < v < float("inf")
                   for v in (found.timeout_seconds, found.connect_timeout_seconds))
        assert all(type(v) is int and v > 0 for v in (found.max_response_bytes, found.concurrency))
        assert all(isinstance(d, timedelta) for d in (*found.retry_schedule, found.disable_after))
        assert isinstance(found.require_https, bool) and all(isinstance(n, str) for n in found.allowed_networks)


# -- emit --data -------------------------------------------------------------------------------------------

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2**80, 2**80), st.floats(), NASTY,
                      st.sampled_from(["https://bi.example.com/d/1", "dashboard", "widget", " ", "42", 1, 0, -1]))
JSON_VALUE = st.recursive(JSON_LEAF, lambda c: st.lists(c, max_size=4) | st.dictionaries(NASTY, c, max_size=4),
                          max_leaves=10)


BIG_INT = st.one_of(st.integers(1, 100), st.integers(2**63 - 3, 2**63 + 3), st.integers(2**63, 2**80))
PLAUSIBLE = {"string": st.one_of(st.just("x"), NASTY.filter(str.strip)),
             "string-url": st.one_of(st.just("https://bi.example.com/x"),
                                     NASTY.map(lambda s: "https://bi.example.com/" + s)),
             "integer": BIG_INT}


def payload_for(data, event_type: str) -> dict:
    """A data object shaped like the type's: its field names, each value mostly plausible, now and then not."""
    payload = {}
    for field in events.CATALOG[event_type].fields:
        if data.draw(st.integers(0, 9), label=f"omit {field.name}?") == 0:
            continue
        plausible = PLAUSIBLE[field.type] if field.type in PLAUSIBLE else st.sampled_from(field.choices)
        odd = data.draw(st.integers(0, 4), label=f"odd {field.name}?") == 0
        payload[field.name] = data.draw(JSON_LEAF if odd else plausible, label=field.name)
    if data.draw(st.integers(0, 9), label="extra?") == 0:
        payload[data.draw(NASTY, label="extra key")] = data.draw(JSON_LEAF, label="extra value")
    return payload


def flags_for(data, event_type: str) -> list[str]:
    """The same through emit's field flags (--id, --name, --item-url, --version, ...)."""
    flag = {"dashboard_id": "id", "datasource_id": "id", "widget_id": "id", "name": "name", "url": "item-url",
            "version": "version", "copied_from": "copied-from", "target": "target", "target_id": "target-id",
            "target_name": "target-name", "comment_id": "comment-id", "comment_url": "comment-url"}
    return [f"--{flag[k]}={v}" for k, v in payload_for(data, event_type).items()
            if k in flag and (k != "version" or (isinstance(v, int) and not isinstance(v, bool)))]


@FUZZ
@given(data=st.data())
def test_emit_data(seeded, db_path, tmp_path, data):
    event_type = data.draw(st.sampled_from(events.EVENT_TYPES), label="type")
    kind = data.draw(st.sampled_from(["shaped", "shaped", "flags", "any", "text", "deep"]), label="kind")
    if kind == "flags":
        args = flags_for(data, event_type)
    elif kind == "text":
        args = [f"--data={data.draw(st.sampled_from(['', '@']), label='@')}{data.draw(NASTY, label='text')}"]
    elif kind == "deep":
        depth = data.draw(st.integers(1, 100_000), label="depth")
        args = ["--data=" + "[" * depth + "]" * depth]
    else:
        value = payload_for(data, event_type) if kind == "shaped" else data.draw(JSON_VALUE, label="value")
        args = ["--data=" + json.dumps(value, ensure_ascii=data.draw(st.booleans(), label="ascii"))]
    db = pick_db(data, db_path, tmp_path)
    result = invoke(["emit", event_type, "--tenant=t1", "--no-send", "--json", *args], db,
                    env={"ALPANA_HOOKS_DB": str(db)})
    if result.exit_code == 0 and json.loads(result.stdout)["fired"]:
        conn = sqlite3.connect(db)
        (body,) = conn.execute("SELECT body FROM events WHERE event_id = ?",
                               (json.loads(result.stdout)["event_id"],)).fetchone()
        conn.close()
        sent = json.loads(bytes(body).decode("utf-8"))
        assert schema_problems(sent, events.CATALOG[event_type].json_schema()) == [], sent
        if kind != "flags":
            given_data = json.loads(args[0].removeprefix("--data="))
            assert json.dumps(sent["data"], sort_keys=True) == json.dumps(given_data, sort_keys=True)


# -- the inputs that once crashed (a traceback, exit 1), kept as fixed cases -----------------------------

BIG_DATA = '{"dashboard_id": "1", "name": "n", "url": "https://x/", "version": 18446744073709551616}'


@pytest.mark.parametrize("args, config", [
    (["add", "--tenant=t1", "--event=widget.added", "--url=http://127.0.0.1\udc80/"], None),
    (["attempts", "prune", "--tenant=t1", "--older-than=999999999d"], None),
    (["secret", "rotate", "1", "--tenant=t1", "--grace=1000000000d"], None),
    (["resend", "--failed", "--dry-run", "--tenant=t1", "--since=0001-01-01T00:00:00+05:00"], None),
    (["events", "list", "--tenant=t1", "--since=800000d"], None),
    (["emit", "datasource.added", "--tenant=t1", "--no-send", "--data=" + "[" * 100_000 + "]" * 100_000], None),
    (["emit", "datasource.added", "--tenant=t1", "--no-send", '--data={"datasource_id": "\\udc80", "name": "x"}'],
     None),
    (["emit", "datasource.added", "--tenant=t1", "--no-send", "--id=\udcff", "--name=x"], None),
    (["emit", "dashboard.updated", "--tenant=t1", "--no-send", "--data=" + BIG_DATA], None),
    (["emit", "datasource.added", "--tenant=t1", "--no-send", "--data=@\x00"], None),
    (["deliver"], "[delivery]\ntimeout_seconds = inf\n"),
    (["deliver"], "[delivery]\ntimeout_seconds = nan\n"),
    (["deliver"], "[delivery]\ntimeout_seconds = 1e308\n"),
    (["deliver"], "[delivery]\nconcurrency = 9223372036854775808\n"),
    (["deliver"], "[delivery]\nretry_schedule = [\"5s\", \"99999999999d\"]\n"),
    (["deliver"], "[delivery]\ndisable_after = \"99999999999d\"\n"),
])
def test_inputs_that_once_crashed_are_refused(seeded, db_path, tmp_path, args, config):
    if config is not None:
        (tmp_path / "bad.toml").write_text(config)
        args = [*args, f"--config={tmp_path / 'bad.toml'}"]
    result = invoke(args, db_path)
    assert result.exit_code == 2
