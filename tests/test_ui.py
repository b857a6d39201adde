"""`alpana-hooks ui`: Textual's own harness (App.run_test and its pilot) against a real store file and a real
local receiver, SVG snapshots of each screen at 100x30, and the command's edges (no Textual, no terminal,
no Textual imported by the other commands)."""

import asyncio
import json
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("textual")

from conftest import db_rows  # noqa: E402
from textual.widgets import DataTable, Input, OptionList, Select, Static  # noqa: E402

from alpana_hooks.api import Hooks  # noqa: E402
from alpana_hooks.config import load_settings  # noqa: E402
from alpana_hooks.errors import NotFound  # noqa: E402
from alpana_hooks.model import State, Status  # noqa: E402
from alpana_hooks.ui.app import HooksApp  # noqa: E402

POLL = 1.0  # seconds between the screens' reads, as when run; the live tests poll faster (LIVE)
LIVE = 0.1
DATA = {"dashboard_id": "42", "name": "Sales", "url": "https://bi.example.com/d/42", "version": 3}
HOSTILE_BODY = b"\x1b]0;pwned\x07\x1b[31mred [bold]markup[/bold] \x1b[2J"


def run_app(scenario, tenant="acme", size=(100, 30), poll=POLL):
    """Run the app headless with the pilot; the scenario is `async def scenario(app, pilot)`."""

    async def main():
        app = HooksApp(load_settings(), tenant, poll_interval=poll)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(app, pilot)
        return app

    return asyncio.run(main())


async def until(pilot, predicate, what="the condition", timeout=15.0):
    """Wait (without pressing anything) until predicate() holds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - a screen not mounted yet
            pass
        if time.monotonic() > deadline:
            app = pilot.app
            shown = [n.message for n in app._notifications]  # an error the app reported explains most waits
            raise AssertionError(f"timed out waiting for {what}; screen {type(app.screen).__name__}, "
                                 f"notifications {shown}")
        await pilot.pause(0.02)


def hooks() -> Hooks:
    return Hooks.open()


def table_keys(app) -> list[str]:
    table = app.screen.query(DataTable).last()
    return [row.key.value for row in table.ordered_rows]


def cell(app, key: str, column: str) -> str:
    return app.screen.query(DataTable).last().get_cell(key, column).plain


def static_text(app, selector: str) -> str:
    """What a Static shows, as plain text (a rich table rendered first)."""
    import io

    from rich.console import Console
    from rich.text import Text

    content = app.screen.query_one(selector, Static).content
    if isinstance(content, (str, Text)):
        return str(content)
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(content)
    return console.export_text()


async def type_into(pilot, input_id: str, text: str) -> None:
    widget = pilot.app.screen.query_one(f"#{input_id}", Input)
    widget.focus()
    widget.value = ""
    await pilot.press(*text)


# -- the API method the UI added ---------------------------------------------------------------------------

def test_tenants_are_those_with_a_subscription_or_an_event():
    with hooks() as api:
        assert api.tenants() == []
        api.add_subscription("zeta", "dashboard.updated", "https://hooks.example.com/z")
        api.emit("acme", "dashboard.deleted", {"dashboard_id": "1", "name": "x"}, send=False)
        api.add_subscription("acme", "widget.added", "https://hooks.example.com/a")
        assert api.tenants() == ["acme", "zeta"]


# -- the command -------------------------------------------------------------------------------------------

def test_other_commands_do_not_import_textual():
    for args in (["--help"], ["list", "--tenant", "t1"]):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "alpana_hooks", *args],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "textual" not in done.stderr.lower(), args


def test_ui_without_textual_says_how_to_install_it_and_exits_2():
    code = ("import sys; sys.modules['textual'] = None; sys.argv = ['alpana-hooks', 'ui', '-t', 'acme']; "
            "from alpana_hooks.__main__ import main; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: the terminal UI needs Textual: pip install 'alpana-hooks[ui]'"]


def test_ui_needs_a_terminal_and_checks_the_tenant_first(cli):
    no_terminal = cli("ui", "-t", "acme")
    assert (no_terminal.exit_code, no_terminal.stderr) == (2, "error: ui needs a terminal (stdin and stdout)\n")
    bad = cli("ui", "-t", "no tenant!")
    assert bad.exit_code == 2 and "invalid tenant 'no tenant!'" in bad.stderr


# -- pilot tests ---------------------------------------------------------------------------------------------

def test_add_through_the_form_a_bad_url_is_refused_inline_and_nothing_is_saved(receiver):
    rx = receiver()

    async def scenario(app, pilot):
        await until(pilot, lambda: "no subscriptions in acme" in static_text(app, "#empty"), "the empty list")
        await pilot.press("a")
        await until(pilot, lambda: app.screen.query("#url"), "the form")
        await type_into(pilot, "url", "ftp://x")
        app.screen.query_one("#event", Select).value = "dashboard.updated"
        await pilot.press("ctrl+s")
        message = "invalid URL 'ftp://x': the scheme must be http or https"
        await until(pilot, lambda: static_text(app, "#url-error") == message, "the inline URL message")
        assert app.screen.query_one("#url-error").has_class("shown")
        with hooks() as api:
            assert api.subscriptions("acme") == []  # nothing saved

        app.screen.query_one("#url", Input).value = rx.url("/bi")
        await pilot.press("ctrl+n")
        key, value = app.screen.query(".key").last(), app.screen.query(".value").last()
        assert app.focused is key
        key.value, value.value = "Auth", "s3"
        await pilot.pause()
        assert value.password  # a sensitive value is masked until revealed
        await pilot.press("ctrl+r")
        assert not value.password
        app.screen.query_one("#rate-limit", Input).value = "10/s"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "SecretShown", "the secret shown once")
        await pilot.press("enter")
        await until(pilot, lambda: table_keys(app) == ["1"], "the new row in the webhooks list")
        assert cell(app, "1", "Event") == "dashboard.updated" and cell(app, "1", "State") == "Active"

    run_app(scenario)
    with hooks() as api:
        [sub] = api.subscriptions("acme")
    assert (sub.url, sub.headers, sub.rate_limit) == (rx.url("/bi"), (("Auth", "s3"),), "10/s")


def test_an_emitted_attempt_appears_without_a_key_press_then_resend_and_show_data(receiver):
    rx = receiver(lambda path, headers, body: (500, {"X-Evil": "\x1b[31mx"}, HOSTILE_BODY))
    with hooks() as api:
        sub = api.add_subscription("acme", "dashboard.updated", rx.url("/bi")).subscription

    async def scenario(app, pilot):
        await until(pilot, lambda: table_keys(app) == [str(sub.id)], "the webhooks list")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "DetailsScreen", "the details")
        await until(pilot, lambda: "no send attempts yet" in static_text(app, "#attempts-title"), "an empty list")

        def emit():
            with hooks() as api:
                return api.emit("acme", "dashboard.updated", DATA, event_id="evt_live_1")

        await asyncio.to_thread(emit)
        await until(pilot, lambda: table_keys(app) == ["1"], "the attempt, without a key press")
        await until(pilot, lambda: cell(app, "1", "Status") == "✗ failed", "its status")
        assert cell(app, "1", "Code") == "500" and cell(app, "1", "Webhook Event Id") == "evt_live_1"

        await pilot.press("R")  # resend the selected attempt
        await until(pilot, lambda: table_keys(app) == ["2", "1"], "the resend's attempt")
        await until(pilot, lambda: cell(app, "2", "Status") == "✗ failed", "the resend's status")
        assert len(rx.requests) == 2

        app.screen.query_one(DataTable).move_cursor(row=1)
        await pilot.press("enter")  # Show Data
        await until(pilot, lambda: type(app.screen).__name__ == "ShowDataScreen", "Show Data")
        await until(pilot, lambda: "evt_live_1" in static_text(app, "#payload"), "the payload")
        payload = static_text(app, "#payload")
        assert '"dashboard_id": "42"' in payload and payload.startswith("{\n  ")  # pretty JSON
        body = static_text(app, "#response-body")
        assert "\x1b" not in body and "\x07" not in body
        assert body == "\\x1b]0;pwned\\x07\\x1b[31mred [bold]markup[/bold] \\x1b[2J"
        assert "X-Evil: \\x1b[31mx" in static_text(app, "#response-headers")
        await pilot.press("end")
        await pilot.pause()
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "[bold]markup[/bold]" in svg.replace("&#160;", " ")

        await pilot.press("R")  # resend from Show Data too
        await until(pilot, lambda: len(rx.requests) == 3, "the resend from Show Data")

    run_app(scenario, poll=LIVE)
    with hooks() as api:
        attempts = api.attempts("acme")
    assert [(a.id, a.trigger, a.resend_of, a.status) for a in attempts] == [
        (3, "resend", 1, Status.FAILED), (2, "resend", 1, Status.FAILED), (1, "emit", None, Status.FAILED)]


def test_disable_and_delete_from_the_details(receiver):
    rx = receiver()
    with hooks() as api:
        sub = api.add_subscription("acme", "widget.added", rx.url("/w"), description="widgets").subscription

    async def scenario(app, pilot):
        await until(pilot, lambda: table_keys(app) == [str(sub.id)], "the webhooks list")
        await pilot.press("enter")
        await until(pilot, lambda: "widgets" in static_text(app, "#fields"), "the details")
        await pilot.press("x")
        await until(pilot, lambda: "Disabled" in static_text(app, "#fields"), "the disabled state")
        with hooks() as api:
            assert api.subscription("acme", sub.id).state == State.DISABLED
        await pilot.press("D")
        await until(pilot, lambda: type(app.screen).__name__ == "Confirm", "the confirmation")
        await pilot.press("n")  # no: nothing deleted
        with hooks() as api:
            api.subscription("acme", sub.id)
        await pilot.press("D")
        await until(pilot, lambda: type(app.screen).__name__ == "Confirm", "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: type(app.screen).__name__ == "WebhooksScreen", "back on the list")
        await until(pilot, lambda: table_keys(app) == [], "the row gone")

    run_app(scenario)
    with hooks() as api, pytest.raises(NotFound):
        api.subscription("acme", sub.id)


def test_edit_saves_nothing_until_the_whole_form_is_valid(receiver):
    rx = receiver()
    with hooks() as api:
        sub = api.add_subscription("acme", "widget.added", rx.url("/old"), headers=[("X-Team", "bi")]).subscription

    async def scenario(app, pilot):
        await until(pilot, lambda: table_keys(app) == [str(sub.id)], "the webhooks list")
        await pilot.press("e")
        await until(pilot, lambda: app.screen.query("#url"), "the form")
        app.screen.query_one("#url", Input).value = rx.url("/new")
        key, value = app.screen.query(".key").last(), app.screen.query(".value").last()
        key.value, value.value = "X Team", "analytics"
        await pilot.press("ctrl+s")
        message = "invalid header name 'X Team': use ASCII letters, digits and !#$%&'*+-.^_`|~ only"
        await until(pilot, lambda: static_text(app, "#headers-error") == message, "the inline header message")
        with hooks() as api:
            assert api.subscription("acme", sub.id).url == rx.url("/old")  # the valid URL was not saved alone
        key.value = "X-Team"
        app.screen.query_one("#enabled").value = False
        await pilot.press("ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "WebhooksScreen", "back on the list")

    run_app(scenario)
    with hooks() as api:
        saved = api.subscription("acme", sub.id)
    assert (saved.url, saved.headers, saved.state) == (rx.url("/new"), (("X-Team", "analytics"),), State.DISABLED)


def test_an_edit_the_store_refuses_half_way_saves_nothing_of_the_form(receiver):
    """The form's save is one API call in one transaction: the store refusing a header (after the URL and
    description were written) leaves the subscription exactly as it was; the message shows in the form."""
    import sqlite3

    rx = receiver()
    with hooks() as api:
        sub = api.add_subscription("acme", "widget.added", rx.url("/old"), description="old",
                                   headers=[("X-Team", "bi")]).subscription
    with sqlite3.connect(load_settings().database) as conn:
        conn.execute("CREATE TRIGGER refuse_header BEFORE INSERT ON subscription_headers WHEN NEW.value = 'refused'"
                     " BEGIN SELECT RAISE(ABORT, 'header refused by the store'); END")

    async def scenario(app, pilot):
        await until(pilot, lambda: table_keys(app) == [str(sub.id)], "the webhooks list")
        await pilot.press("e")
        await until(pilot, lambda: app.screen.query("#url"), "the form")
        app.screen.query_one("#url", Input).value = rx.url("/new")
        app.screen.query_one("#description", Input).value = "new"
        app.screen.query(".value").last().value = "refused"
        app.screen.query_one("#enabled").value = False
        await pilot.press("ctrl+s")
        await until(pilot, lambda: static_text(app, "#form-error")
                    == "unexpected error: IntegrityError: header refused by the store", "the message")
        assert type(app.screen).__name__ == "SubscriptionForm"

    run_app(scenario)
    with hooks() as api:
        assert api.subscription("acme", sub.id) == sub


def test_resend_failed_since_counts_first_asks_then_shows_progress(receiver):
    rx = receiver(lambda path, headers, body: (503, {}, b"down"))
    with hooks() as api:
        api.add_subscription("acme", "dashboard.updated", rx.url("/a"))
        api.add_subscription("acme", "dashboard.updated", rx.url("/b"))
        api.emit("acme", "dashboard.updated", DATA, event_id="evt_down_1")

    async def scenario(app, pilot):
        await until(pilot, lambda: len(table_keys(app)) == 2, "the webhooks list")
        await pilot.press("t")
        await until(pilot, lambda: table_keys(app) == ["2", "1"], "the tenant's attempts")
        await pilot.press("F")
        await until(pilot, lambda: app.screen.query("#since"), "the resend failed dialog")
        await type_into(pilot, "since", "soon")
        await pilot.press("enter")
        await until(pilot, lambda: "invalid --since 'soon'" in static_text(app, "#info"), "the inline message")
        await type_into(pilot, "since", "1h")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "Confirm", "the count and the confirmation")
        assert str(app.screen.query(Static).first().content) == "Resend 2 failed deliveries?"
        assert len(rx.requests) == 2
        await pilot.press("y")
        await until(pilot, lambda: "sent 2 of 2: 0 succeeded, 2 failed" in static_text(app, "#info"), "the progress")
        await pilot.press("escape")
        await until(pilot, lambda: table_keys(app) == ["4", "3", "2", "1"], "the new attempts in the list")

    run_app(scenario)
    assert len(rx.requests) == 4


def test_filter_the_attempts_by_status(receiver):
    rx = receiver(lambda path, headers, body: (500 if path == "/bad" else 200, {}, b"{}"))
    with hooks() as api:
        api.add_subscription("acme", "dashboard.updated", rx.url("/ok"))
        api.add_subscription("acme", "dashboard.updated", rx.url("/bad"))
        api.emit("acme", "dashboard.updated", DATA)

    async def scenario(app, pilot):
        await pilot.press("t")
        await until(pilot, lambda: table_keys(app) == ["2", "1"], "the tenant's attempts")
        await pilot.press("f")
        await until(pilot, lambda: app.screen.query("#status"), "the filter")
        app.screen.query_one("#status", Select).value = "failed"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: table_keys(app) == ["2"], "only the failed attempt")
        assert "status: failed" in static_text(app, "#attempts-title")

    run_app(scenario)


def test_leaving_with_a_send_in_flight_waits_until_it_is_recorded(receiver):
    release = threading.Event()

    def slow(path, headers, body):
        release.wait(5)
        return None

    rx = receiver(slow)
    with hooks() as api:
        sub = api.add_subscription("acme", "dashboard.updated", rx.url("/slow")).subscription

    async def scenario(app, pilot):
        await until(pilot, lambda: table_keys(app) == [str(sub.id)], "the webhooks list")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "DetailsScreen", "the details")
        await pilot.press("p")  # ping: a send
        await until(pilot, lambda: len(rx.requests) == 1, "the ping on the wire")
        await pilot.press("q")
        await pilot.pause(0.2)
        assert app.is_running and app.leaving  # waits for the send in flight
        release.set()
        await until(pilot, lambda: not app.is_running, "the app leaving by itself")

    run_app(scenario)
    [row] = db_rows(load_settings().database, "SELECT status, status_code, claimed_by FROM attempts")
    assert row == {"status": "succeeded", "status_code": 200, "claimed_by": None}


def test_q_twice_leaves_at_once_and_the_send_in_flight_is_still_recorded(receiver):
    release = threading.Event()
    rx = receiver(lambda path, headers, body: release.wait(5) and None)
    with hooks() as api:
        sub = api.add_subscription("acme", "dashboard.updated", rx.url("/slow")).subscription

    async def scenario(app, pilot):
        await until(pilot, lambda: table_keys(app) == [str(sub.id)], "the webhooks list")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "DetailsScreen", "the details")
        await pilot.press("p")
        await until(pilot, lambda: len(rx.requests) == 1, "the ping on the wire")
        await pilot.press("q", "q")
        await until(pilot, lambda: not app.is_running, "the app gone at once")
        threading.Timer(0.3, release.set).start()  # the receiver answers after the screen is gone

    run_app(scenario)  # returns once the send's worker has recorded it
    [row] = db_rows(load_settings().database, "SELECT status, status_code, claimed_by FROM attempts")
    assert row == {"status": "succeeded", "status_code": 200, "claimed_by": None}


def test_the_tenant_picker():
    with hooks() as api:
        api.add_subscription("globex", "dashboard.updated", "https://hooks.example.com/g")
        api.add_subscription("acme", "widget.added", "https://hooks.example.com/a")

    async def scenario(app, pilot):
        options = app.screen.query_one(OptionList)
        await until(pilot, lambda: options.option_count == 2, "the tenants")
        assert [str(options.get_option_at_index(i).prompt) for i in range(2)] == ["acme", "globex"]
        await type_into(pilot, "tenant", "no such!")
        await pilot.press("enter")
        await until(pilot, lambda: "invalid tenant 'no such!'" in static_text(app, "#error"), "the inline message")
        assert app.screen.query_one("#error").display
        options.focus()
        options.highlighted = 1
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.sub_title == "globex", "the webhooks of globex")
        await until(pilot, lambda: len(table_keys(app)) == 1, "its row")
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "TenantScreen", "back on the picker")

    run_app(scenario, tenant=None)


def test_untrusted_text_is_escaped_in_the_list_and_the_details():
    with hooks() as api:
        api.add_subscription("acme", "widget.added", "https://hooks.example.com/a",
                             description="\x1b[31m[bold]red[/bold]\u202e")

    async def scenario(app, pilot):
        await until(pilot, lambda: table_keys(app) == ["1"], "the list")
        await pilot.press("enter")
        await until(pilot, lambda: "[bold]red[/bold]" in static_text(app, "#fields"), "the details")
        fields = static_text(app, "#fields")
        assert "\\x1b[31m[bold]red[/bold]\\u202e" in fields and "\x1b" not in fields
        await pilot.press("e")  # the form shows it escaped too, and keeps it when left as shown
        await until(pilot, lambda: app.screen.query("#description"), "the form")
        assert app.screen.query_one("#description", Input).value == "\\x1b[31m[bold]red[/bold]\\u202e"
        app.screen.query_one("#url", Input).value = "https://hooks.example.com/b"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "DetailsScreen", "back on the details")

    run_app(scenario)
    with hooks() as api:
        sub = api.subscription("acme", 1)
    assert (sub.url, sub.description) == ("https://hooks.example.com/b", "\x1b[31m[bold]red[/bold]\u202e")


# -- snapshots -----------------------------------------------------------------------------------------------

FIXED = "2026-11-28T09:00:00.000000Z"

def test_view_webhook_event_from_the_attempts_and_from_show_data(receiver):
    """The product's View Webhook Event: the event's fields, its payload (escaped) and its attempts across
    every subscription that listened, from the attempts list (w) and from Show Data (w)."""
    rx = receiver(lambda path, headers, body: (200, {}, b"ok") if path == "/a" else (500, {}, b"no"))
    with hooks() as api:
        first = api.add_subscription("acme", "dashboard.updated", rx.url("/a")).subscription
        second = api.add_subscription("acme", "dashboard.updated", rx.url("/b")).subscription
        api.emit("acme", "dashboard.updated", {**DATA, "name": "\x1b[2Jwipe"}, event_id="evt_view_1")
        stored, _ = api.event("acme", "evt_view_1")

    async def scenario(app, pilot):
        await until(pilot, lambda: table_keys(app) == [str(first.id), str(second.id)], "the webhooks list")
        await pilot.press("t")
        await until(pilot, lambda: table_keys(app) == ["2", "1"], "the tenant's attempts")
        await pilot.press("w")
        await until(pilot, lambda: type(app.screen).__name__ == "EventScreen" and table_keys(app) == ["2", "1"],
                    "the event with its two attempts")
        fields = [line.rstrip() for line in static_text(app, "#fields").splitlines()]
        assert fields == ["Webhook Event     dashboard.updated", "Webhook Event Id  evt_view_1",
                          "Tenant            acme", f"Creation time     {fields[3][18:]}"]
        assert [(cell(app, key, "Sub"), cell(app, key, "Status"), cell(app, key, "Code")) for key in ("2", "1")] \
            == [(str(second.id), "✗ failed", "500"), (str(first.id), "✓ succeeded", "200")]
        payload = static_text(app, "#payload")
        assert payload.startswith("{\n  ") and '"name": "\\u001b[2Jwipe"' in payload and "\x1b" not in payload
        assert json.loads(payload) == json.loads(stored.body)
        await pilot.press("enter")  # the attempt under the cursor: its Show Data
        await until(pilot, lambda: type(app.screen).__name__ == "ShowDataScreen", "Show Data")
        await until(pilot, lambda: "evt_view_1" in static_text(app, "#fields"), "the attempt")
        await pilot.press("w")  # and from Show Data, the event again
        await until(pilot, lambda: type(app.screen).__name__ == "EventScreen" and table_keys(app) == ["2", "1"],
                    "the event from Show Data")

    run_app(scenario, poll=LIVE)



@pytest.fixture(scope="module")
def snapshot_template(tmp_path_factory):
    """A store made once through the API and a real receiver, then its times, durations, ports and
    signatures set to fixed values so that the screens are the same on every run."""
    from conftest import ALLOW_LOOPBACK, Receiver

    folder = tmp_path_factory.mktemp("snapshots")
    database, config = folder / "hooks.db", folder / "config.toml"
    config.write_text(ALLOW_LOOPBACK)
    rx = Receiver(lambda path, headers, body: (503, {}, b'{"error": "down"}') if path == "/down" else None)
    try:
        with Hooks.open(database=str(database), config=str(config)) as api:
            api.add_subscription("acme", "dashboard.updated", rx.url("/bi"), description="BI sync",
                                 headers=[("Authorization", "Bearer s3cr3t"), ("X-Team", "bi")])
            api.add_subscription("acme", "widget.added", rx.url("/widgets"))
            down = api.add_subscription("acme", "dashboard.deleted", rx.url("/down"), description="down").subscription
            api.add_subscription("globex", "dashboard.updated", rx.url("/globex"))
            api.emit("acme", "dashboard.updated", DATA, event_id="evt_snap_1")
            api.emit("acme", "widget.added", {"widget_id": "7", "name": "Revenue",
                                              "url": "https://bi.example.com/w/7"}, event_id="evt_snap_2")
            api.emit("acme", "dashboard.deleted", {"dashboard_id": "42", "name": "Sales"}, event_id="evt_snap_3")
            api.disable("acme", down.id)
    finally:
        rx.close()
    normalise(database, str(rx.server.server_address[1]))
    return database


@pytest.fixture
def snapshot_store(snapshot_template):
    """This test's store: a copy of the template."""
    import shutil

    shutil.copyfile(snapshot_template, load_settings().database)


def normalise(database, port: str) -> None:
    import sqlite3

    conn = sqlite3.connect(database)
    with conn:
        conn.execute("UPDATE subscriptions SET url = replace(url, ?, '8787'), created_at = ?, updated_at = ?,"
                     " disabled_at = CASE WHEN disabled_at IS NULL THEN NULL ELSE ? END", (port, FIXED, FIXED, FIXED))
        conn.execute("UPDATE subscription_secrets SET secret = 'whsec_' || subscription_id || 'c2VjcmV0', created_at = ?",
                     (FIXED,))
        conn.execute("UPDATE events SET created_at = ?, body = CAST(replace(CAST(body AS TEXT),"
                     " substr(CAST(body AS TEXT), instr(CAST(body AS TEXT), '\"timestamp\":') + 13, 27), ?) AS BLOB)",
                     (FIXED, FIXED))
        rows = conn.execute("SELECT id, request_headers FROM attempts").fetchall()
        for attempt_id, request_headers in rows:
            fixed = [[name, {"webhook-timestamp": "1796288400", "webhook-signature": "v1,c2lnbmF0dXJl",
                             "Host": "127.0.0.1:8787"}.get(name, value)]
                     for name, value in json.loads(request_headers or "[]")]
            conn.execute("UPDATE attempts SET url = replace(url, ?, '8787'), created_at = ?, started_at = ?,"
                         " finished_at = ?, duration_ms = 12, request_headers = ?,"
                         " response_headers = '[[\"Content-Type\", \"application/json\"]]',"
                         " next_attempt_at = CASE WHEN next_attempt_at IS NULL THEN NULL ELSE ? END WHERE id = ?",
                         (port, FIXED, FIXED, FIXED, json.dumps(fixed), "2026-11-28T09:00:05.000000Z", attempt_id))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def snapshot_app(tenant="acme"):
    return HooksApp(load_settings(), tenant, poll_interval=POLL)


async def settle(pilot, screen_name: str, ready=lambda app: True):
    """Wait for a screen and its data; a steady text cursor (a blinking one differs between runs)."""
    await until(pilot, lambda: type(pilot.app.screen).__name__ == screen_name and ready(pilot.app), screen_name)
    await steady(pilot)


async def steady(pilot):
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def rows_loaded(app) -> bool:
    return bool(app.screen.query(DataTable).last().row_count)


def test_snapshot_tenants(snapshot_store, snap_compare):
    async def ready(pilot):
        await settle(pilot, "TenantScreen", lambda app: app.screen.query_one(OptionList).option_count == 2)

    assert snap_compare(snapshot_app(None), terminal_size=(100, 30), run_before=ready)


def test_snapshot_webhooks(snapshot_store, snap_compare):
    async def ready(pilot):
        await settle(pilot, "WebhooksScreen", rows_loaded)

    assert snap_compare(snapshot_app(), terminal_size=(100, 30), run_before=ready)


def test_snapshot_add_form_with_an_inline_error(snapshot_store, snap_compare):
    async def ready(pilot):
        await settle(pilot, "WebhooksScreen", rows_loaded)
        await pilot.press("a")
        await settle(pilot, "SubscriptionForm")
        await type_into(pilot, "url", "ftp://x")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: static_text(pilot.app, "#event-error"), "the message")
        await steady(pilot)

    assert snap_compare(snapshot_app(), terminal_size=(100, 30), run_before=ready)


def test_snapshot_edit_form(snapshot_store, snap_compare):
    async def ready(pilot):
        await settle(pilot, "WebhooksScreen", rows_loaded)
        await pilot.press("e")
        await settle(pilot, "SubscriptionForm")

    assert snap_compare(snapshot_app(), terminal_size=(100, 30), run_before=ready)


def test_snapshot_details(snapshot_store, snap_compare):
    async def ready(pilot):
        await settle(pilot, "WebhooksScreen", rows_loaded)
        await pilot.press("enter")
        await settle(pilot, "DetailsScreen", lambda app: rows_loaded(app) and "whsec_" in static_text(app, "#fields"))

    assert snap_compare(snapshot_app(), terminal_size=(100, 30), run_before=ready)


async def to_tenant_attempts(pilot) -> None:
    """From the first screen of the snapshot store to the tenant's three send attempts."""
    await settle(pilot, "WebhooksScreen", rows_loaded)
    await pilot.press("t")
    await settle(pilot, "AttemptsScreen", lambda app: app.screen.query(DataTable).last().row_count == 3)


def test_snapshot_attempts_of_the_tenant(snapshot_store, snap_compare):
    async def ready(pilot):
        await to_tenant_attempts(pilot)

    assert snap_compare(snapshot_app(), terminal_size=(100, 30), run_before=ready)


def test_snapshot_show_data(snapshot_store, snap_compare):
    async def ready(pilot):
        await to_tenant_attempts(pilot)
        await pilot.press("enter")
        await settle(pilot, "ShowDataScreen", lambda app: "evt_snap_3" in static_text(app, "#payload"))

    assert snap_compare(snapshot_app(), terminal_size=(100, 30), run_before=ready)


def test_snapshot_view_webhook_event(snapshot_store, snap_compare):
    async def ready(pilot):
        await to_tenant_attempts(pilot)
        await pilot.press("w")
        await settle(pilot, "EventScreen", lambda app: rows_loaded(app) and "evt_snap_3" in static_text(app, "#payload"))

    assert snap_compare(snapshot_app(), terminal_size=(100, 30), run_before=ready)


def test_snapshot_resend_failed(snapshot_store, snap_compare):
    async def ready(pilot):
        await settle(pilot, "WebhooksScreen", rows_loaded)
        await pilot.press("t")
        await settle(pilot, "AttemptsScreen", rows_loaded)
        await pilot.press("F")
        await settle(pilot, "ResendFailedScreen")

    assert snap_compare(snapshot_app(), terminal_size=(100, 30), run_before=ready)


def test_snapshot_confirm_delete(snapshot_store, snap_compare):
    async def ready(pilot):
        await settle(pilot, "WebhooksScreen", rows_loaded)
        await pilot.press("D")
        await settle(pilot, "Confirm")

    assert snap_compare(snapshot_app(), terminal_size=(100, 30), run_before=ready)



def footer(app) -> str:
    """The footer line as the terminal shows it, whole (the KeysBar's rendered line, its trailing blanks cut)."""
    from textual.geometry import Region

    from alpana_hooks.ui.widgets import KeysBar

    bar = app.screen.query_one(KeysBar)
    assert bar.size.width == app.size.width
    return bar.render_lines(Region(0, 0, bar.size.width, 1))[0].text.rstrip()


def test_every_footer_fits_80_columns_and_keeps_keys_and_quit(snapshot_store):
    """At 80x24 each screen's footer is whole; keys that do not fit are left out (…), never ? and q."""
    seen = {}

    async def scenario(app, pilot):
        async def visit(keys, screen_name, ready=lambda app: True):
            await pilot.press(*keys)
            await until(pilot, lambda: type(app.screen).__name__ == screen_name and ready(app), screen_name)
            await pilot.pause()
            seen[screen_name if screen_name not in seen else f"{screen_name} (edit)"] = footer(app)

        await visit([], "TenantScreen", lambda app: app.screen.query_one(OptionList).option_count == 2)
        app.screen.query_one(OptionList).highlighted = 0
        await visit(["enter"], "WebhooksScreen", rows_loaded)
        await visit(["a"], "SubscriptionForm")
        await visit(["escape", "enter"], "DetailsScreen", rows_loaded)
        await visit(["e"], "SubscriptionForm")
        await visit(["escape", "escape", "t"], "AttemptsScreen", lambda app: app.screen.query(DataTable).last().row_count == 3)
        await visit(["enter"], "ShowDataScreen")
        await visit(["w"], "EventScreen")

    run_app(scenario, tenant=None, size=(80, 24))
    assert seen == {
        "TenantScreen": "? Keys q Quit",
        "WebhooksScreen": "⏎ Details a Add e Edit x On/Off D Delete t Attempts r Refresh ? Keys q Quit",
        "SubscriptionForm": "^d Remove header ^s Save esc Cancel ^n Add header ^r Reveal values",
        "DetailsScreen": "⏎ Show Data r Refresh R Resend w Event e Edit x On/Off p Ping … ? Keys q Quit",
        "SubscriptionForm (edit)": "^d Remove header ^s Save esc Cancel ^n Add header ^r Reveal values",
        "AttemptsScreen": "⏎ Show Data r Refresh R Resend w Event f Filter F Resend failed… ? Keys q Quit",
        "ShowDataScreen": "esc Back R Resend r Refresh w Event c Copy payload ? Keys q Quit",
        "EventScreen": "⏎ Show Data esc Back r Refresh ? Keys q Quit",
    }


def test_the_keys_bar_leaves_keys_out_from_the_end_but_never_keys_and_quit():
    from alpana_hooks.ui.widgets import fitted

    keys = [("⏎", "Show Data", False), ("r", "Refresh", False), ("?", "Keys", True), ("q", "Quit", True)]
    assert fitted(keys, 40) == [("⏎", "Show Data"), ("r", "Refresh"), ("?", "Keys"), ("q", "Quit")]
    assert fitted(keys, 30) == [("⏎", "Show Data"), ("…", ""), ("?", "Keys"), ("q", "Quit")]
    assert fitted(keys, 10) == [("…", ""), ("?", "Keys"), ("q", "Quit")]  # cropped by the bar


def test_the_rate_limit_in_the_details_and_the_form_checked_as_the_cli_checks_it(receiver):
    rx = receiver()
    with hooks() as api:
        sub = api.add_subscription("acme", "widget.added", rx.url("/a")).subscription

    def rate_row(app) -> str:
        return next(line for line in static_text(app, "#fields").splitlines() if line.startswith("Rate limit"))

    async def scenario(app, pilot):
        await until(pilot, lambda: table_keys(app) == [str(sub.id)], "the webhooks list")
        await pilot.press("enter")
        await until(pilot, lambda: "Rate limit" in static_text(app, "#fields"), "the details")
        assert rate_row(app).split() == ["Rate", "limit", "none"]
        await pilot.press("e")
        await until(pilot, lambda: app.screen.query("#rate-limit"), "the form")
        field = app.screen.query_one("#rate-limit", Input)
        assert field.value == ""
        field.value = "ten a second"
        await pilot.press("ctrl+s")
        message = ("invalid rate limit 'ten a second': use a count per second, minute or hour, e.g. 10/s, 600/m or "
                   "5000/h (none: no limit)")
        await until(pilot, lambda: static_text(app, "#rate-limit-error") == message, "the inline message")
        with hooks() as api:
            assert api.subscription("acme", sub.id) == sub  # nothing saved
        field.value = "600/M"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "DetailsScreen"
                    and rate_row(app).split() == ["Rate", "limit", "600/m"], "the limit in the details")
        with hooks() as api:
            assert api.subscription("acme", sub.id).rate_limit == "600/m"
        await pilot.press("e")
        await until(pilot, lambda: app.screen.query("#rate-limit"), "the form again")
        assert app.screen.query_one("#rate-limit", Input).value == "600/m"
        app.screen.query_one("#rate-limit", Input).value = ""  # emptied: no limit (`edit --rate-limit none`)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "DetailsScreen"
                    and rate_row(app).split() == ["Rate", "limit", "none"], "no limit in the details")

    run_app(scenario)
    with hooks() as api:
        assert api.subscription("acme", sub.id).rate_limit is None
