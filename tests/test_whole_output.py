"""Whole-output tests of the human output: on a terminal of 80 and 120 columns (a real pseudo-terminal; colour and bold
codes are removed before comparing) and into a pipe (plain tab-separated rows, as gh prints them).

Each command runs in a real process against a real store under tmp_path, after real sends to a real receiver on
127.0.0.1, and its ENTIRE stdout and stderr are compared with the text written below, so a dropped table, column,
row or line fails. What changes from run to run (times, ages, durations, event ids, secrets, the receiver's port,
its Date and Python version) is replaced first by placeholders of the same width, so the alignment of every
table is still compared. Trailing spaces are stripped from each line so that the expected texts survive editors.
"""

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios

import pytest
from conftest import run_cli

TENANT = "acme"

# Every rule keeps the width of what it replaces, so a table's alignment is compared too.
SAME_WIDTH = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"), lambda m: "YYYY-MM-DDThh:mm:ss.ffffffZ"),
    (re.compile(r"evt_[0-9A-Z]{26}"), lambda m: "evt_" + "X" * 26),
    (re.compile(r"whsec_[A-Za-z0-9+/]{43}="), lambda m: "whsec_" + "S" * 44),
    (re.compile(r"(?<=127\.0\.0\.1:)\d+"), lambda m: "P" * len(m.group())),
    (re.compile(r"(?<= )\d+ ms(?: +|$)"), lambda m: "N ms".ljust(len(m.group()))),  # a duration and its padding
    (re.compile(r"(?<=  )\d+[smhd] ago(?: +|$)"), lambda m: "AGE".ljust(len(m.group()))),  # an age and its padding
    (re.compile(r"(?<=  )(?:in \d+[smhd]|due)(?: +|$)"), lambda m: "RETRY".ljust(len(m.group()))),
]
OTHER = [
    (re.compile(r"webhook-timestamp: \d+"), lambda m: "webhook-timestamp: UNIXTIME"),
    (re.compile(r"v1,[A-Za-z0-9+/]{43}="), lambda m: "v1,SIGNATURE"),
    (re.compile(r"Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"), lambda m: "Date: DATE"),
    (re.compile(r"Python/\d+\.\d+\.\d+\S*"), lambda m: "Python/X.Y.Z"),
    (re.compile(r"alpana-hooks/\d+\.\d+\.\d+\S*"), lambda m: "alpana-hooks/VERSION"),
    (re.compile(r"(?<=\t)\d+ ms(?=\t|\n)"), lambda m: "N ms"),
]


def normalise(text: str) -> str:
    """`text` with the varying values replaced (see SAME_WIDTH and OTHER), trailing spaces stripped."""
    for pattern, replace in SAME_WIDTH:
        text = "\n".join(pattern.sub(lambda m, rule=replace: _checked(m, rule), line) for line in text.split("\n"))
    for pattern, replace in OTHER:
        text = pattern.sub(replace, text)
    return "\n".join(line.rstrip(" ") for line in text.split("\n"))


def _checked(match, replace) -> str:
    replacement = replace(match)
    assert len(replacement) == len(match.group()), (match.group(), replacement)
    return replacement


def run(*args) -> tuple[int, str, str]:
    """The command with stdout into a pipe."""
    result = run_cli(*args, "--tenant", TENANT)
    return result.returncode, normalise(result.stdout), normalise(result.stderr)


SGR = re.compile(r"\x1b\[[0-9;]*m")  # colour and bold: a terminal may show them, the layout is what is compared


def run_cli_plain(*args) -> tuple[int, str, str]:
    """A command that takes no --tenant, with stdout into a pipe."""
    result = run_cli(*args)
    return result.returncode, normalise(result.stdout), normalise(result.stderr)


def run_tty(*args, columns: int, tenant: str = TENANT) -> tuple[int, str, str]:
    """The command with stdout on a real terminal of `columns` columns (stderr into a pipe)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "PYTHONIOENCODING": "utf-8"}
    with subprocess.Popen([sys.executable, "-m", "alpana_hooks", *args, "--tenant", tenant], env=env,
                          stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.PIPE) as process:
        os.close(follower)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            out += chunk
        err = process.stderr.read()
    os.close(leader)
    text = SGR.sub("", out.decode("utf-8").replace("\r\n", "\n"))
    return process.returncode, normalise(text), normalise(err.decode("utf-8"))


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
def no_forced_terminal(monkeypatch):
    """None of the variables that would make rich treat a pipe as a terminal."""
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
                  "--item-url", "https://bi.example.com/d/42")
    assert emitted.exit_code == 4, emitted.output
    pinged = cli("ping", "1", "-t", TENANT)
    assert pinged.exit_code == 0, pinged.output
    assert len(two_subscriptions.requests) == 3
    return two_subscriptions




LONG_PATH = "/comments/from/the/analytics/team/webhook-receiver"


@pytest.fixture
def three_subscriptions(cli, two_subscriptions):
    """Two active subscriptions and a disabled one whose URL is too long for 80 columns."""
    cli.json("add", "-t", TENANT, "--event", "comment.added", "--url", two_subscriptions.url(LONG_PATH),
             "--disabled", "--description", "Comments feed for the analytics team", "--header", "X-Api-Key: k-123")
    return two_subscriptions


def test_add(hook):
    check(run_tty("add", "--event", "dashboard.updated", "--url", hook.url("/hook"), "--description", "BI sync",
                  "--header", "Authorization: Bearer abc", "--header", "X-Team: analytics", columns=80), 0, """\
Subscription 1
Tenant                acme
Event                 dashboard.updated
URL                   http://127.0.0.1:PPPPP/hook
Description           BI sync
State                 Active
Created               YYYY-MM-DDThh:mm:ss.ffffffZ
Updated               YYYY-MM-DDThh:mm:ss.ffffffZ
Signing secret        whsec_SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS
Header Authorization  ********
Header X-Team         analytics
""", """\
Added subscription 1. `alpana-hooks secret show 1 -t acme` shows the signing secret again.
""")


def test_list_at_80_columns(three_subscriptions):
    check(run_tty("list", columns=80), 0, """\
ID  EVENT              URL                             STATE     DESCRIPTION
1   dashboard.updated  http://127.0.0.1:PPPPP/hook     Active    BI sync
2   dashboard.updated  http://127.0.0.1:PPPPP/fail     Active
3   comment.added      http://127.0.0.…bhook-receiver  Disabled  Comments feed …
""", "")


def test_list_at_120_columns(three_subscriptions):
    check(run_tty("list", columns=120), 0, """\
ID  EVENT              URL                                           STATE     HEADERS          DESCRIPTION
1   dashboard.updated  http://127.0.0.1:PPPPP/hook                   Active    Authorization,…  BI sync
2   dashboard.updated  http://127.0.0.1:PPPPP/fail                   Active
3   comment.added      http://127.0.0.1:PPPPP…team/webhook-receiver  Disabled  X-Api-Key        Comments feed for the…
""", "")


def test_list_wide_at_80_columns(three_subscriptions):
    check(run_tty("list", "--wide", columns=80), 0, """\
ID  EVENT              URL                                                                       STATE     HEADERS                DESCRIPTION
1   dashboard.updated  http://127.0.0.1:PPPPP/hook                                               Active    Authorization, X-Team  BI sync
2   dashboard.updated  http://127.0.0.1:PPPPP/fail                                               Active
3   comment.added      http://127.0.0.1:PPPPP/comments/from/the/analytics/team/webhook-receiver  Disabled  X-Api-Key              Comments feed for the analytics team
""", "")


def test_list_piped(three_subscriptions):
    check(run("list"), 0, """\
1\tdashboard.updated\thttp://127.0.0.1:PPPPP/hook\tActive\tAuthorization, X-Team\tBI sync
2\tdashboard.updated\thttp://127.0.0.1:PPPPP/fail\tActive\t\t
3\tcomment.added\thttp://127.0.0.1:PPPPP/comments/from/the/analytics/team/webhook-receiver\tDisabled\tX-Api-Key\tComments feed for the analytics team
""", "")


def test_show_added_disabled(three_subscriptions):
    check(run_tty("show", "3", columns=80), 0, """\
Subscription 3
Tenant            acme
Event             comment.added
URL               http://127.0.0.1:PPPPP/comments/from/the/analytics/team/webhoo
                  k-receiver
Description       Comments feed for the analytics team
State             Disabled
Disabled at       YYYY-MM-DDThh:mm:ss.ffffffZ
Created           YYYY-MM-DDThh:mm:ss.ffffffZ
Updated           YYYY-MM-DDThh:mm:ss.ffffffZ
Header X-Api-Key  ********
""", """\
no send attempts yet
""")


def test_show_with_its_latest_attempts(sent):
    check(run_tty("show", "1", columns=120), 0, """\
Subscription 1
Tenant                acme
Event                 dashboard.updated
URL                   http://127.0.0.1:PPPPP/hook
Description           BI sync
State                 Active
Created               YYYY-MM-DDThh:mm:ss.ffffffZ
Updated               YYYY-MM-DDThh:mm:ss.ffffffZ
Header Authorization  ********
Header X-Team         analytics
Latest send attempts
ID  EVENT              EVENT ID                        CREATED  STATUS     HTTP  DURATION  NEXT RETRY  RESPONSE
3   ping               evt_XXXXXXXXXXXXXXXXXXXXXXXXXX  AGE      succeeded  200   N ms                  {"ok": true}
1   dashboard.updated  evt_XXXXXXXXXXXXXXXXXXXXXXXXXX  AGE      succeeded  200   N ms                  {"ok": true}
""", "")


def test_attempts_list_at_80_columns(sent):
    check(run_tty("attempts", "list", columns=80), 0, """\
ID  EVENT              EVENT ID                        CREATED  STATUS     HTTP
3   ping               evt_XXXXXXXXXXXXXXXXXXXXXXXXXX  AGE      succeeded  200
2   dashboard.updated  evt_XXXXXXXXXXXXXXXXXXXXXXXXXX  AGE      failed     500
1   dashboard.updated  evt_XXXXXXXXXXXXXXXXXXXXXXXXXX  AGE      succeeded  200
""", "")


def test_attempts_list_at_120_columns(sent):
    check(run_tty("attempts", "list", columns=120), 0, """\
ID  SUB  EVENT              EVENT ID                        CREATED  STATUS     HTTP  DURATION  NEXT RETRY  RESPONSE
3   1    ping               evt_XXXXXXXXXXXXXXXXXXXXXXXXXX  AGE      succeeded  200   N ms                  {"ok": true}
2   2    dashboard.updated  evt_XXXXXXXXXXXXXXXXXXXXXXXXXX  AGE      failed     500   N ms      RETRY       internal er…
1   1    dashboard.updated  evt_XXXXXXXXXXXXXXXXXXXXXXXXXX  AGE      succeeded  200   N ms                  {"ok": true}
""", "")


def test_attempts_list_piped(sent):
    check(run("attempts", "list"), 0, """\
3\t1\tping\tevt_XXXXXXXXXXXXXXXXXXXXXXXXXX\tYYYY-MM-DDThh:mm:ss.ffffffZ\tsucceeded\t200\tN ms\t\t{"ok": true}
2\t2\tdashboard.updated\tevt_XXXXXXXXXXXXXXXXXXXXXXXXXX\tYYYY-MM-DDThh:mm:ss.ffffffZ\tfailed\t500\tN ms\tYYYY-MM-DDThh:mm:ss.ffffffZ\tinternal error: database is down
1\t1\tdashboard.updated\tevt_XXXXXXXXXXXXXXXXXXXXXXXXXX\tYYYY-MM-DDThh:mm:ss.ffffffZ\tsucceeded\t200\tN ms\t\t{"ok": true}
""", "")


def test_attempts_list_unresolved(sent):
    check(run("attempts", "list", "--status", "failed", "--unresolved"), 0, """\
2\t2\tdashboard.updated\tevt_XXXXXXXXXXXXXXXXXXXXXXXXXX\tYYYY-MM-DDThh:mm:ss.ffffffZ\tfailed\t500\tN ms\tYYYY-MM-DDThh:mm:ss.ffffffZ\tinternal error: database is down
""", "")


def test_events_list_at_80_columns(sent):
    check(run_tty("events", "list", columns=80), 0, """\
EVENT ID                        EVENT              CREATED  ATTEMPTS
evt_XXXXXXXXXXXXXXXXXXXXXXXXXX  ping               AGE      1
evt_XXXXXXXXXXXXXXXXXXXXXXXXXX  dashboard.updated  AGE      2
""", "")


def test_events_list_piped(sent):
    check(run("events", "list"), 0, """\
evt_XXXXXXXXXXXXXXXXXXXXXXXXXX\tping\tYYYY-MM-DDThh:mm:ss.ffffffZ\t1\t{"subscription_id": 1, "message": "ping from alpana-hooks"}
evt_XXXXXXXXXXXXXXXXXXXXXXXXXX\tdashboard.updated\tYYYY-MM-DDThh:mm:ss.ffffffZ\t2\t{"dashboard_id": "42", "name": "Sales", "url": "https://bi.example.com/d/42", "version": 3}
""", "")


def test_attempts_show_succeeded(sent):
    check(run_tty("attempts", "show", "1", columns=80), 0, """\
Send attempt 1
Subscription ID  1
Event            dashboard.updated
Event ID         evt_XXXXXXXXXXXXXXXXXXXXXXXXXX
Trigger          emit
Attempt number   1
Created at       YYYY-MM-DDThh:mm:ss.ffffffZ
Started at       YYYY-MM-DDThh:mm:ss.ffffffZ
Finished at      YYYY-MM-DDThh:mm:ss.ffffffZ
URL              http://127.0.0.1:PPPPP/hook
Status           succeeded
HTTP status      200
Duration         N ms
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


def test_attempts_show_failed_piped(sent):
    check(run("attempts", "show", "2"), 0, """\
Subscription ID\t2
Event\tdashboard.updated
Event ID\tevt_XXXXXXXXXXXXXXXXXXXXXXXXXX
Trigger\temit
Attempt number\t1
Created at\tYYYY-MM-DDThh:mm:ss.ffffffZ
Started at\tYYYY-MM-DDThh:mm:ss.ffffffZ
Finished at\tYYYY-MM-DDThh:mm:ss.ffffffZ
URL\thttp://127.0.0.1:PPPPP/fail
Status\tfailed
HTTP status\t500
Duration\tN ms
Error class\thttp_status
Error\tHTTP 500
Next retry at\tYYYY-MM-DDThh:mm:ss.ffffffZ
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


@pytest.fixture
def recorded(cli, two_subscriptions):
    """One dashboard.updated recorded for both subscriptions, not sent yet (attempts 1 and 2)."""
    emitted = cli("emit", "dashboard.updated", "-t", TENANT, "--id", "42", "--name", "Sales", "--version", "3",
                  "--item-url", "https://bi.example.com/d/42", "--no-send")
    assert emitted.exit_code == 0, emitted.output
    return two_subscriptions


def test_deliver_says_what_it_did(recorded):
    check(run_cli_plain("deliver"), 4, """\
1\t1\thttp://127.0.0.1:PPPPP/hook\t200\tN ms\tsucceeded
2\t2\thttp://127.0.0.1:PPPPP/fail\t500\tN ms\tfailed: HTTP 500
""", """\
sent 2: 1 succeeded, 1 failed
""")


def test_deliver_of_a_big_backlog_shows_the_first_100(cli, hook):
    """A one-shot deliver lists the first 100 attempts it sent, not all (it would hold them all in memory)."""
    from alpana_hooks import Hooks

    cli("add", "--event", "widget.deleted", "--url", hook.url("/hook"), "-t", TENANT)
    with Hooks.open() as hooks:
        for n in range(105):
            hooks.emit(TENANT, "widget.deleted", {"widget_id": str(n), "name": "W"}, send=False)
    code, stdout, stderr = run_cli_plain("deliver")
    assert (code, len(stdout.splitlines())) == (0, 100)
    assert stderr == "sent 105: 105 succeeded, 0 failed (the first 100 shown; attempts list has them all)\n"


def test_deliver_loop_logs_a_line_per_delivery(recorded, config_path):
    config_path.write_text(config_path.read_text() + "\n[delivery]\nretry_schedule = []\n")  # no retry of /fail
    loop = subprocess.Popen([sys.executable, "-m", "alpana_hooks", "deliver", "--loop", "--interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        logged = [loop.stderr.readline() for _ in range(2)]
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=30)
    finally:
        loop.kill()
    check((loop.returncode, normalise(out), normalise("".join(sorted(logged)) + err)), 0, "", """\
1\t1\thttp://127.0.0.1:PPPPP/hook\t200\tN ms\tsucceeded
2\t2\thttp://127.0.0.1:PPPPP/fail\t500\tN ms\tfailed: HTTP 500
sent 2: 1 succeeded, 1 failed
""")
