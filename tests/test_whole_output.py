"""Whole-output tests of the human tables at 100 columns: list, show (with and without send attempts),
attempts list and attempts show.

Each command runs in a real process (`run_cli`) against a real store under tmp_path, after real sends to a real
receiver on 127.0.0.1, and its ENTIRE stdout and stderr are compared with the text written below, so a dropped
table, column, row or line fails. What changes from run to run (times, durations, event ids, secrets, the
receiver's port, the receiver's Date and Python version) is replaced first by regular expressions; inside tables
the placeholders have the same width, so the alignment of every table is still compared, also where a narrow column
folds a value over several lines (see `normalise`). Trailing spaces are stripped from each line (rich pads a table's title to the table's
width) so that the expected texts survive editors.
"""

import re

import pytest

from conftest import run_cli

TENANT = "acme"

# Length-preserving rules, applied both to plain text and inside table columns, where a value may be folded.
SAME_WIDTH = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"), lambda m: "YYYY-MM-DDThh:mm:ss.ffffffZ"),
    (re.compile(r"evt_[0-9A-Z]{26}"), lambda m: "evt_" + "X" * 26),
    (re.compile(r"whsec_[A-Za-z0-9+/]{43}="), lambda m: "whsec_" + "S" * 44),
    (re.compile(r"(?<=127\.0\.0\.1:)\d+"), lambda m: "P" * len(m.group())),
]

# Rules for text outside tables, or for values that never fold; the duration rules keep the width too.
OTHER = [
    (re.compile(r"(?<=│ )\d+ ms *"), lambda m: "N ms".ljust(len(m.group()))),
    (re.compile(r"(Duration ms +│ )(\d+ *)"), lambda m: m.group(1) + "N".ljust(len(m.group(2)))),
    (re.compile(r"webhook-timestamp: \d+"), lambda m: "webhook-timestamp: UNIXTIME"),
    (re.compile(r"v1,[A-Za-z0-9+/]{43}="), lambda m: "v1,SIGNATURE"),
    (re.compile(r"Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"), lambda m: "Date: DATE"),
    (re.compile(r"Python/\d+\.\d+\.\d+\S*"), lambda m: "Python/X.Y.Z"),
    (re.compile(r"alpana-hooks/\d+\.\d+\.\d+\S*"), lambda m: "alpana-hooks/VERSION"),
]

BARS = "│┃"


def normalise(text: str) -> str:
    """`text` with the varying values replaced, table columns first (a folded value is joined from its pieces,
    replaced, and put back piece by piece), then the whole text; trailing spaces stripped from each line."""
    lines = [list(line) for line in text.split("\n")]
    for column in _columns(text.split("\n")):
        joined, where = "", []
        for index, (row, start, end) in enumerate(column):
            piece = "".join(lines[row][start:end]).rstrip(" ")
            if index and not _filled(column[index - 1], lines):
                joined, where = joined + "\n", where + [None]  # the previous piece ended its value: no fold
            joined += piece
            where += [(row, start + i) for i in range(len(piece))]
        for pattern, replace in SAME_WIDTH:
            joined = pattern.sub(lambda m: _checked(m, replace), joined)
        for char, place in zip(joined, where):
            if place is not None:
                lines[place[0]][place[1]] = char
    result = "\n".join("".join(line) for line in lines)
    for pattern, replace in SAME_WIDTH + OTHER:
        result = pattern.sub(replace, result)
    return "\n".join(line.rstrip(" ") for line in result.split("\n"))


def _checked(match, replace) -> str:
    replacement = replace(match)
    assert len(replacement) == len(match.group()), (match.group(), replacement)
    return replacement


def _filled(cell, lines) -> bool:
    """Whether a cell's line is full to its right padding, i.e. rich folded its value onto the next line."""
    row, start, end = cell
    return lines[row][end - 1] != " "


def _columns(lines: list[str]):
    """The cells of each column of each block of consecutive table lines, as (line, start, end) of the text
    between the one-space paddings."""
    block: list[int] = []
    for number, line in enumerate(lines + [""]):
        if len(line) > 1 and line[0] in BARS and line[-1] in BARS:
            block.append(number)
            continue
        if block:
            bars = [i for i, ch in enumerate(lines[block[0]]) if ch in BARS]
            for left, right in zip(bars, bars[1:]):
                yield [(row, left + 2, right - 1) for row in block]
            block = []


def run(*args) -> tuple[int, str, str]:
    result = run_cli(*args, "--tenant", TENANT)
    return result.returncode, normalise(result.stdout), normalise(result.stderr)


def check(actual: tuple[int, str, str], code: int, stdout: str, stderr: str) -> None:
    """Compare exit code, the whole stdout and the whole stderr; a failure shows the actual text in full."""
    got_code, got_out, got_err = actual
    shown = f"\n--- actual exit code {got_code}, stdout (normalised):\n{got_out}\n--- stderr (normalised):\n{got_err}"
    assert (got_code, got_out, got_err) == (code, stdout, stderr), shown


def respond(path, headers, body):
    if path == "/fail":
        return 500, {"Content-Type": "text/plain"}, b"internal error: database is down"
    return 200, {"Content-Type": "application/json"}, b'{"ok": true}'


@pytest.fixture(autouse=True)
def plain_100_columns(monkeypatch):
    """100 columns, and none of the variables that would make rich style a pipe's output."""
    monkeypatch.setenv("COLUMNS", "100")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hook(receiver):
    """A receiver whose port has 5 digits (the placeholders keep widths, so a 4-digit port would shift tables)."""
    for _ in range(50):
        made = receiver(respond)
        if len(str(made.server.server_address[1])) == 5:
            return made
    pytest.fail("no 5-digit port")


@pytest.fixture
def two_subscriptions(cli, hook):
    """Subscription 1 answers 200 and has two extra headers, one masked; subscription 2 answers 500."""
    cli.json("add", "-t", TENANT, "--event", "dashboard.updated", "--url", hook.url("/hook"),
             "--header", "Authorization: Bearer abc", "--header", "X-Team: analytics", "--description", "BI sync")
    cli.json("add", "-t", TENANT, "--event", "dashboard.updated", "--url", hook.url("/fail"))
    return hook


@pytest.fixture
def sent(cli, two_subscriptions):
    """One dashboard.updated sent to both (attempt 1 succeeds, attempt 2 fails), then a ping to subscription 1
    (attempt 3)."""
    emitted = cli("emit", "dashboard.updated", "-t", TENANT, "--id", "42", "--name", "Sales", "--version", "3",
                  "--url", "https://bi.example.com/d/42")
    assert emitted.exit_code == 4, emitted.output
    pinged = cli("ping", "1", "-t", TENANT)
    assert pinged.exit_code == 0, pinged.output
    assert len(two_subscriptions.requests) == 3
    return two_subscriptions




def test_normalise_joins_folded_values_and_keeps_widths():
    folded = (
        "┃ Id         ┃ Time       ┃\n"
        "│ evt_01M8XJ │ 2026-12-03 │\n"
        "│ G8KCM7VXDQ │ T09:06:55. │\n"
        "│ C4MX08ZH8P │ 724140Z    │\n"
        "│ evt_short  │ 9 ms       │\n"
    )
    assert normalise(folded) == (
        "┃ Id         ┃ Time       ┃\n"
        "│ evt_XXXXXX │ YYYY-MM-DD │\n"
        "│ XXXXXXXXXX │ Thh:mm:ss. │\n"
        "│ XXXXXXXXXX │ ffffffZ    │\n"
        "│ evt_short  │ N ms       │\n"
    )


def test_add(hook):
    check(run("add", "--event", "dashboard.updated", "--url", hook.url("/hook"), "--description", "BI sync",
              "--header", "Authorization: Bearer abc", "--header", "X-Team: analytics"), 0, """\
Subscription 1
┏━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ Field                ┃ Value                                              ┃
┡━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ Tenant               │ acme                                               │
│ Event                │ dashboard.updated                                  │
│ URL                  │ http://127.0.0.1:PPPPP/hook                        │
│ Description          │ BI sync                                            │
│ State                │ Active                                             │
│ Created              │ YYYY-MM-DDThh:mm:ss.ffffffZ                        │
│ Updated              │ YYYY-MM-DDThh:mm:ss.ffffffZ                        │
│ Signing secret       │ whsec_SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS │
│ Header Authorization │ ********                                           │
│ Header X-Team        │ analytics                                          │
└──────────────────────┴────────────────────────────────────────────────────┘
""", """\
Added subscription 1. `alpana-hooks secret show 1 -t acme` shows the signing secret again.
""")


def test_list(cli, two_subscriptions):
    cli.json("add", "-t", TENANT, "--event", "comment.added", "--url", two_subscriptions.url("/comments"),
             "--disabled", "--description", "Comments feed", "--header", "X-Api-Key: k-123")
    check(run("list"), 0, """\
┏━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ ID ┃ Event             ┃ URL                   ┃ State    ┃ Headers              ┃ Description   ┃
┡━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ 1  │ dashboard.updated │ http://127.0.0.1:PPPP │ Active   │ Authorization,       │ BI sync       │
│    │                   │ P/hook                │          │ X-Team               │               │
│ 2  │ dashboard.updated │ http://127.0.0.1:PPPP │ Active   │                      │               │
│    │                   │ P/fail                │          │                      │               │
│ 3  │ comment.added     │ http://127.0.0.1:PPPP │ Disabled │ X-Api-Key            │ Comments feed │
│    │                   │ P/comments            │          │                      │               │
└────┴───────────────────┴───────────────────────┴──────────┴──────────────────────┴───────────────┘
""", "")


def test_show_without_attempts(two_subscriptions):
    check(run("show", "2"), 0, """\
Subscription 2
┏━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ Field       ┃ Value                       ┃
┡━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ Tenant      │ acme                        │
│ Event       │ dashboard.updated           │
│ URL         │ http://127.0.0.1:PPPPP/fail │
│ Description │                             │
│ State       │ Active                      │
│ Created     │ YYYY-MM-DDThh:mm:ss.ffffffZ │
│ Updated     │ YYYY-MM-DDThh:mm:ss.ffffffZ │
└─────────────┴─────────────────────────────┘
""", """\
no send attempts yet
""")


def test_show_with_its_latest_attempts(sent):
    check(run("show", "1"), 0, """\
Subscription 1
┏━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ Field                ┃ Value                       ┃
┡━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ Tenant               │ acme                        │
│ Event                │ dashboard.updated           │
│ URL                  │ http://127.0.0.1:PPPPP/hook │
│ Description          │ BI sync                     │
│ State                │ Active                      │
│ Created              │ YYYY-MM-DDThh:mm:ss.ffffffZ │
│ Updated              │ YYYY-MM-DDThh:mm:ss.ffffffZ │
│ Header Authorization │ ********                    │
│ Header X-Team        │ analytics                   │
└──────────────────────┴─────────────────────────────┘
Latest send attempts
┏━━━━┳━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━┓
┃    ┃     ┃            ┃            ┃            ┃           ┃ Http       ┃          ┃            ┃
┃    ┃     ┃ Webhook    ┃ Webhook    ┃ Creation   ┃           ┃ Status     ┃          ┃            ┃
┃ ID ┃ Sub ┃ Event      ┃ Event Id   ┃ time       ┃ Status    ┃ Code       ┃ Duration ┃ Response   ┃
┡━━━━╇━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━┩
│ 3  │ 1   │ ping       │ evt_XXXXXX │ YYYY-MM-DD │ succeeded │ 200        │ N ms     │ {"ok":     │
│    │     │            │ XXXXXXXXXX │ Thh:mm:ss. │           │            │          │ true}      │
│    │     │            │ XXXXXXXXXX │ ffffffZ    │           │            │          │            │
│ 1  │ 1   │ dashboard. │ evt_XXXXXX │ YYYY-MM-DD │ succeeded │ 200        │ N ms     │ {"ok":     │
│    │     │ updated    │ XXXXXXXXXX │ Thh:mm:ss. │           │            │          │ true}      │
│    │     │            │ XXXXXXXXXX │ ffffffZ    │           │            │          │            │
└────┴─────┴────────────┴────────────┴────────────┴───────────┴────────────┴──────────┴────────────┘
""", "")


def test_attempts_list(sent):
    check(run("attempts", "list"), 0, """\
┏━━━━┳━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━┓
┃    ┃     ┃            ┃            ┃            ┃           ┃ Http       ┃          ┃            ┃
┃    ┃     ┃ Webhook    ┃ Webhook    ┃ Creation   ┃           ┃ Status     ┃          ┃            ┃
┃ ID ┃ Sub ┃ Event      ┃ Event Id   ┃ time       ┃ Status    ┃ Code       ┃ Duration ┃ Response   ┃
┡━━━━╇━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━┩
│ 3  │ 1   │ ping       │ evt_XXXXXX │ YYYY-MM-DD │ succeeded │ 200        │ N ms     │ {"ok":     │
│    │     │            │ XXXXXXXXXX │ Thh:mm:ss. │           │            │          │ true}      │
│    │     │            │ XXXXXXXXXX │ ffffffZ    │           │            │          │            │
│ 2  │ 2   │ dashboard. │ evt_XXXXXX │ YYYY-MM-DD │ failed    │ 500        │ N ms     │ internal   │
│    │     │ updated    │ XXXXXXXXXX │ Thh:mm:ss. │           │            │          │ error:     │
│    │     │            │ XXXXXXXXXX │ ffffffZ    │           │            │          │ database   │
│    │     │            │            │            │           │            │          │ is down    │
│ 1  │ 1   │ dashboard. │ evt_XXXXXX │ YYYY-MM-DD │ succeeded │ 200        │ N ms     │ {"ok":     │
│    │     │ updated    │ XXXXXXXXXX │ Thh:mm:ss. │           │            │          │ true}      │
│    │     │            │ XXXXXXXXXX │ ffffffZ    │           │            │          │            │
└────┴─────┴────────────┴────────────┴────────────┴───────────┴────────────┴──────────┴────────────┘
""", "")


def test_attempts_show_succeeded(sent):
    check(run("attempts", "show", "1"), 0, """\
Send attempt 1
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ Field                      ┃ Value                          ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ Subscription id            │ 1                              │
│ Event                      │ dashboard.updated              │
│ Event id                   │ evt_XXXXXXXXXXXXXXXXXXXXXXXXXX │
│ Trigger                    │ emit                           │
│ Attempt number             │ 1                              │
│ Created at                 │ YYYY-MM-DDThh:mm:ss.ffffffZ    │
│ Started at                 │ YYYY-MM-DDThh:mm:ss.ffffffZ    │
│ Finished at                │ YYYY-MM-DDThh:mm:ss.ffffffZ    │
│ Url                        │ http://127.0.0.1:PPPPP/hook    │
│ Status                     │ succeeded                      │
│ Status code                │ 200                            │
│ Duration ms                │ N                              │
│ Response headers truncated │ False                          │
│ Response truncated         │ False                          │
└────────────────────────────┴────────────────────────────────┘
Data (payload):
{
  "type": "dashboard.updated",
  "id": "evt_XXXXXXXXXXXXXXXXXXXXXXXXXX",
  "timestamp": "YYYY-MM-DDThh:mm:ss.ffffffZ",
  "tenant": "acme",
  "data": {
    "dashboard_id": "42",
    "name": "Sales",
    "url": "https://bi.example.com/d/42",
    "version": 3
  }
}
Request headers:
  Host: 127.0.0.1:PPPPP
  Authorization: ********
  X-Team: analytics
  Content-Type: application/json
  User-Agent: alpana-hooks/VERSION
  Accept-Encoding: identity
  webhook-id: evt_XXXXXXXXXXXXXXXXXXXXXXXXXX
  webhook-timestamp: UNIXTIME
  webhook-signature: ********
  Content-Length: 216
Response headers:
  Server: BaseHTTP/0.6 Python/X.Y.Z
  Date: DATE
  Content-Type: application/json
  Content-Length: 12
Response body:
{"ok": true}
""", "")


def test_attempts_show_failed(sent):
    check(run("attempts", "show", "2"), 0, """\
Send attempt 2
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ Field                      ┃ Value                          ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ Subscription id            │ 2                              │
│ Event                      │ dashboard.updated              │
│ Event id                   │ evt_XXXXXXXXXXXXXXXXXXXXXXXXXX │
│ Trigger                    │ emit                           │
│ Attempt number             │ 1                              │
│ Created at                 │ YYYY-MM-DDThh:mm:ss.ffffffZ    │
│ Started at                 │ YYYY-MM-DDThh:mm:ss.ffffffZ    │
│ Finished at                │ YYYY-MM-DDThh:mm:ss.ffffffZ    │
│ Url                        │ http://127.0.0.1:PPPPP/fail    │
│ Status                     │ failed                         │
│ Status code                │ 500                            │
│ Duration ms                │ N                              │
│ Next attempt at            │ YYYY-MM-DDThh:mm:ss.ffffffZ    │
│ Response headers truncated │ False                          │
│ Response truncated         │ False                          │
└────────────────────────────┴────────────────────────────────┘
Data (payload):
{
  "type": "dashboard.updated",
  "id": "evt_XXXXXXXXXXXXXXXXXXXXXXXXXX",
  "timestamp": "YYYY-MM-DDThh:mm:ss.ffffffZ",
  "tenant": "acme",
  "data": {
    "dashboard_id": "42",
    "name": "Sales",
    "url": "https://bi.example.com/d/42",
    "version": 3
  }
}
Request headers:
  Host: 127.0.0.1:PPPPP
  Content-Type: application/json
  User-Agent: alpana-hooks/VERSION
  Accept-Encoding: identity
  webhook-id: evt_XXXXXXXXXXXXXXXXXXXXXXXXXX
  webhook-timestamp: UNIXTIME
  webhook-signature: ********
  Content-Length: 216
Response headers:
  Server: BaseHTTP/0.6 Python/X.Y.Z
  Date: DATE
  Content-Type: text/plain
  Content-Length: 32
Response body:
internal error: database is down
""", "")
