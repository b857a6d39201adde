"""Input, secrets and files (issue 15): secrets off the command line, private files, capped reads, header rules,
the database path, apply --prune. Real subprocesses, real files, a real receiver."""

import os
import stat
import subprocess
import sys

import pytest

from conftest import db_rows, limit_memory, run_cli, table_rows

from alpana_hooks.apply import quote

TOKEN = "Bearer s3cret-token-value"


def alpana(*args, stdin: str | None = None, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """`python -m alpana_hooks ARGS` with stdin text; asserts no secret reached its argv."""
    argv = [sys.executable, "-m", "alpana_hooks", *[str(a) for a in args]]
    assert TOKEN not in " ".join(argv)
    return subprocess.run(argv, input=stdin, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=60, stdin=None if stdin is not None else subprocess.DEVNULL, **kwargs)


def stored_headers(db_path) -> list[tuple[str, str]]:
    return [(r["name"], r["value"]) for r in db_rows(db_path, "SELECT name, value FROM subscription_headers ORDER BY name")]


# -- 7. secrets on the command line ------------------------------------------------------------

def test_add_takes_headers_from_a_file_or_stdin_and_they_go_out(cli, db_path, receiver, tmp_path):
    rx = receiver()
    (tmp_path / "headers").write_text(f"Authorization: {TOKEN}\r\n\nX-Team: analytics\n")
    from_file = alpana("add", "-t", "t1", "--event", "widget.added", "--url", rx.url(), "--header-file",
                       tmp_path / "headers", "-H", "X-Plain: yes")
    assert from_file.returncode == 0, from_file.stderr
    from_stdin = alpana("add", "-t", "t1", "--event", "widget.added", "--url", rx.url("/two"), "--header-file", "-",
                        stdin=f"Authorization: {TOKEN}\n")
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert TOKEN not in from_file.stdout + from_stdin.stdout  # masked when shown
    assert cli("emit", "widget.added", "-t", "t1", "--id", "7", "--name", "W", "--item-url", "https://bi/w/7").exit_code == 0
    by_path = {r["path"]: r["headers"] for r in rx.requests}
    assert [by_path["/hook"][name] for name in ("Authorization", "X-Team", "X-Plain")] == [TOKEN, "analytics", "yes"]
    assert by_path["/two"]["Authorization"] == TOKEN


def test_headers_add_takes_the_value_from_a_file_or_stdin(cli, add_sub, db_path, tmp_path):
    sub = add_sub("https://example.com/h")
    (tmp_path / "token").write_text(TOKEN + "\n")
    result = alpana("headers", "add", sub["id"], "Authorization", "--value-file", tmp_path / "token", "-t", "t1")
    assert result.returncode == 0, result.stderr
    assert stored_headers(db_path) == [("Authorization", TOKEN)]
    result = alpana("headers", "add", sub["id"], "X-Api-Key", "--value-file", "-", "-t", "t1", stdin=TOKEN)
    assert result.returncode == 0, result.stderr
    assert stored_headers(db_path) == [("Authorization", TOKEN), ("X-Api-Key", TOKEN)]


@pytest.mark.parametrize("args, message", [
    (["X-A"], "give the header value either as VALUE or with --value-file FILE (- reads stdin)"),
    (["X-A", "v", "--value-file", "-"], "give the header value either as VALUE or with --value-file FILE (- reads stdin)"),
    (["X-A", "--value-file", "/nonexistent"], "cannot read --value-file '/nonexistent': No such file or directory"),
])
def test_headers_add_needs_exactly_one_value(cli, add_sub, db_path, args, message):
    sub = add_sub("https://example.com/h")
    before = table_rows(db_path)
    result = cli("headers", "add", sub["id"], *args, "-t", "t1", input="x")
    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")
    assert table_rows(db_path) == before


# -- 8. the store is private whatever the path and the umask ---------------------------------------

def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_store_through_a_symlink_and_new_folders_is_private_under_umask_000(tmp_path, monkeypatch):
    link = tmp_path / "link.db"
    target = tmp_path / "real" / "hooks.db"
    target.parent.mkdir()
    link.symlink_to(target)  # dangling: the file does not exist yet
    result = run_cli("list", "-t", "t1", "--db", link, preexec_fn=lambda: os.umask(0o000))
    assert result.returncode == 0, result.stderr
    monkeypatch.delenv("ALPANA_HOOKS_DB")  # the default location: the only one whose folders are created
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "new" / "deeper"))
    result = run_cli("list", "-t", "t1", preexec_fn=lambda: os.umask(0o000))
    assert result.returncode == 0, result.stderr
    plain = tmp_path / "new" / "deeper" / "alpana-hooks" / "hooks.db"
    assert link.is_symlink() and mode(target) == 0o600 and mode(plain) == 0o600
    for folder in (plain.parent, plain.parent.parent, plain.parent.parent.parent):
        assert mode(folder) == 0o700, folder


def test_store_through_a_symlink_into_an_existing_folder_is_0600(tmp_path):
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "hooks-real.db")
    result = run_cli("list", "-t", "t1", "--db", link, preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "hooks-real.db") == 0o600


# -- 11. a database path that cannot be used -----------------------------------------------------

def test_a_database_folder_that_cannot_be_created_is_one_line_exit_2(tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("")
    monkeypatch.delenv("ALPANA_HOOKS_DB")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "afile" / "sub"))
    db = tmp_path / "afile" / "sub" / "alpana-hooks" / "hooks.db"
    result = run_cli("list", "-t", "t1")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"error: cannot create the database {db}: {tmp_path / 'afile' / 'sub'}: Not a directory\n"


@pytest.mark.parametrize("command", [["list", "-t", "t1"], ["add", "-t", "t1", "--event", "widget.added", "--url",
                                                            "https://x.example/"], ["db", "status"]])
def test_a_db_path_whose_folder_is_missing_is_exit_2_and_creates_nothing(cli, tmp_path, command):
    """Issue 13 point 12: a mistyped --db does not silently create folders and an empty database."""
    db = tmp_path / "typo" / "hooks.db"
    result = cli(*command, "--db", db)
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", f"error: cannot use the database {db}: the folder {db.parent} does not exist; create it first\n")
    assert not db.parent.exists()


def test_a_relative_database_in_a_config_file_is_relative_to_that_file(cli, tmp_path, monkeypatch):
    """Issue 13 point 12: wherever the command runs from, the config's `database` names the same file."""
    folder = tmp_path / "conf"
    (folder / "data").mkdir(parents=True)
    config = folder / "config.toml"
    config.write_text('database = "data/hooks.db"\n')
    monkeypatch.setenv("ALPANA_HOOKS_CONFIG", str(config))
    monkeypatch.delenv("ALPANA_HOOKS_DB")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = cli("add", "-t", "t1", "--event", "widget.added", "--url", "https://x.example/")
    assert result.exit_code == 0, result.stderr
    assert (folder / "data" / "hooks.db").exists() and list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("how, message", [
    ("flag", "--db is empty: give the database file's path"),
    ("env", "ALPANA_HOOKS_DB is empty: give the database file's path"),
    ("config", "config {config}: key 'database' is empty: give the database file's path"),
])
def test_an_empty_database_path_is_an_error_not_the_default_store(tmp_path, config_path, monkeypatch, how, message):
    args = ["--db", ""] if how == "flag" else []
    if how == "env":
        monkeypatch.setenv("ALPANA_HOOKS_DB", "")
    if how == "config":
        monkeypatch.delenv("ALPANA_HOOKS_DB")
        config_path.write_text('database = ""\n')
    result = run_cli("list", "-t", "t1", *args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"error: {message.format(config=config_path)}\n"
    assert not (tmp_path / "xdg").exists()  # the default store was not created


# -- 9. unbounded input --------------------------------------------------------------------------

def test_emit_data_from_dev_zero_exits_2_at_once(add_sub, db_path):
    add_sub("http://127.0.0.1:9/", "dashboard.added")
    before = table_rows(db_path)
    result = run_cli("emit", "dashboard.added", "-t", "t1", "--data", "@/dev/zero", preexec_fn=limit_memory(1))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("error: --data file '/dev/zero' is larger than the limit of 262144 bytes"
                             " ([delivery] max_payload_bytes)\n")
    assert table_rows(db_path) == before


def test_a_name_over_the_payload_limit_is_refused_and_nothing_is_stored(cli, add_sub, db_path):
    add_sub("http://127.0.0.1:9/", "dashboard.updated")
    before = table_rows(db_path)
    name = "n" * (256 * 1024)
    result = cli("emit", "dashboard.updated", "-t", "t1", "--id", "1", "--name", name, "--item-url", "https://bi/d/1")
    size = len('{"dashboard_id":"1","name":"","url":"https://bi/d/1"}') + len(name)
    assert (result.exit_code, result.stderr) == (2, f"error: the dashboard.updated data is {size} bytes as JSON, "
                                                    "over the limit of 262144 bytes ([delivery] max_payload_bytes)\n")
    assert table_rows(db_path) == before


def test_the_payload_limit_is_a_setting(add_sub, config_path, db_path):
    add_sub("http://127.0.0.1:9/", "widget.deleted")
    config_path.write_text(config_path.read_text() + "[delivery]\nmax_payload_bytes = 100\n")
    fits = run_cli("emit", "widget.deleted", "-t", "t1", "--id", "1", "--name", "n" * 60, "--no-send")
    assert fits.returncode == 0, fits.stderr
    too_big = run_cli("emit", "widget.deleted", "-t", "t1", "--id", "1", "--name", "n" * 100, "--no-send")
    assert (too_big.returncode, too_big.stderr) == (
        2, "error: the widget.deleted data is 127 bytes as JSON, over the limit of 100 bytes ([delivery] max_payload_bytes)\n")
    inline = run_cli("emit", "widget.deleted", "-t", "t1", "--data", "{" + " " * 100 + "}")
    assert (inline.returncode, inline.stderr) == (
        2, "error: --data is larger than the limit of 100 bytes ([delivery] max_payload_bytes)\n")
    assert len(db_rows(db_path, "SELECT * FROM events")) == 1
    config_path.write_text("[delivery]\nmax_payload_bytes = 1000001\n")
    result = run_cli("config", "show")
    assert (result.returncode, result.stderr) == (2, f"error: config {config_path}: key 'delivery.max_payload_bytes': "
                                                     "must be at most 1000000 (listen and verify take bodies up to 1 MiB)\n")


def test_apply_reads_no_more_than_4_mib_from_stdin(add_sub, db_path):
    add_sub("https://example.com/kept", "widget.added")
    before = table_rows(db_path)
    huge = 'tenant = "t1"\n' + ("# " + "x" * 1000 + "\n") * 5000  # valid TOML: 5 MB of comments, no subscription
    result = subprocess.run([sys.executable, "-m", "alpana_hooks", "apply", "-"], input=huge,
                            capture_output=True, text=True, timeout=60, env=os.environ)
    assert (result.returncode, result.stderr) == (
        2, "error: subscriptions file stdin is larger than the limit of 4194304 bytes\n")
    assert table_rows(db_path) == before


# -- 10. header rules: user_agent, C1 controls, '_' spellings, masking ----------------------------

@pytest.mark.parametrize("toml_value", [r'"a\u0000b"', r'"alpana\u0085hooks"', r'"a\r\nX-Injected: 1"', r'"a\u009bb"'])
def test_a_user_agent_with_control_characters_is_refused_at_load(cli, config_path, db_path, toml_value):
    config_path.write_text(f"[delivery]\nuser_agent = {toml_value}\n")
    result = cli("list", "-t", "t1")
    assert (result.exit_code, result.stderr) == (
        2, f"error: config {config_path}: key 'delivery.user_agent': invalid value for header 'User-Agent': "
           "it contains control characters (CR, LF, NUL, …)\n")
    assert not db_path.exists()


@pytest.mark.parametrize("value", ["a\x85b", "a\x80", "\x9fz"])
def test_c1_control_characters_in_header_values_are_refused_like_c0(cli, add_sub, db_path, tmp_path, value):
    sub = add_sub("https://example.com/h")
    before = table_rows(db_path)
    (tmp_path / "subs.toml").write_text('[[subscription]]\nevent = "widget.added"\nurl = "https://e.com/"\n'
                                        f"[subscription.headers]\nX-A = {quote(value)}\n")
    attempts = [cli("add", "-t", "t1", "--event", "widget.added", "--url", "https://e.com/", "-H", f"X-A: {value}"),
                cli("headers", "add", sub["id"], "X-A", value, "-t", "t1"),
                cli("apply", tmp_path / "subs.toml", "-t", "t1")]
    for result in attempts:
        assert result.exit_code == 2 and "'X-A': it contains control characters" in result.stderr, result.stderr
    assert table_rows(db_path) == before


@pytest.mark.parametrize("name, reads_as", [
    ("Webhook_Signature", "webhook-signature"), ("Content_Length", "content-length"), ("User_Agent", "user-agent"),
    ("Proxy_Authorization", "proxy-authorization"), ("Transfer_Encoding", "transfer-encoding"),
])
def test_header_names_that_wsgi_reads_as_a_reserved_one_are_refused(cli, db_path, name, reads_as):
    result = cli("add", "-t", "t1", "--event", "widget.added", "--url", "https://e.com/", "-H", f"{name}: x")
    assert (result.exit_code, result.stderr) == (
        2, f"error: header {name!r} is refused: WSGI and CGI receivers read it as {reads_as!r}, "
           "which alpana-hooks sets itself\n")
    assert table_rows(db_path) is None


def test_an_underscore_in_a_name_of_its_own_is_fine(cli):
    result = cli("add", "-t", "t1", "--event", "widget.added", "--url", "https://e.com/", "-H", "X_Team: a")
    assert result.exit_code == 0, result.stderr


def test_signature_and_passwd_headers_are_masked_in_listings_and_recorded_requests(cli, add_sub, receiver, db_path):
    rx = receiver()
    sub = add_sub(rx.url(), "widget.deleted", "t1", "-H", "X-Hub-Signature: sha256=abc", "-H", "X-Db-Passwd: pw1",
                  "-H", "X-Team: analytics")
    assert [h["value"] for h in sub["headers"]] == ["********", "********", "analytics"]
    assert cli("emit", "widget.deleted", "-t", "t1", "--id", "1", "--name", "W").exit_code == 0
    assert (rx.requests[0]["headers"]["X-Hub-Signature"], rx.requests[0]["headers"]["X-Db-Passwd"]) == ("sha256=abc", "pw1")
    (attempt,) = db_rows(db_path, "SELECT request_headers FROM attempts")
    assert "sha256=abc" not in attempt["request_headers"] and "pw1" not in attempt["request_headers"]
    exported = cli("export", "-t", "t1").stdout
    assert "${ALPANA_X_HUB_SIGNATURE}" in exported and "${ALPANA_X_DB_PASSWD}" in exported


# -- 12. apply --prune asks, and a file's tenant must match ALPANA_HOOKS_TENANT --------------------

PRUNE_FILE = 'tenant = "acme"\n[[subscription]]\nevent = "widget.added"\nurl = "https://kept.example.com/"\n'


@pytest.fixture
def prune_file(add_sub, tmp_path):
    """acme has a subscription the file lists and one it does not (which --prune deletes)."""
    add_sub("https://kept.example.com/", "widget.added", "acme")
    doomed = add_sub("https://doomed.example.com/", "widget.added", "acme")
    path = tmp_path / "subs.toml"
    path.write_text(PRUNE_FILE + '[[subscription]]\nevent = "widget.deleted"\nurl = "https://new.example.com/"\n')
    return path, doomed["id"]


def urls(db_path) -> list[str]:
    return [r["url"] for r in db_rows(db_path, "SELECT url FROM subscriptions ORDER BY id")]


def test_prune_without_a_terminal_needs_yes_and_writes_nothing(prune_file, db_path):
    path, _ = prune_file
    before = table_rows(db_path)
    result = run_cli("apply", path, "--prune")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "error: apply --prune needs --yes when not run from a terminal\n"
    assert table_rows(db_path) == before  # not even the create went in
    result = run_cli("apply", path, "--prune", "--yes")
    assert result.returncode == 0, result.stderr
    assert urls(db_path) == ["https://kept.example.com/", "https://new.example.com/"]


def test_prune_that_deletes_nothing_does_not_ask(add_sub, tmp_path, db_path):
    add_sub("https://kept.example.com/", "widget.added", "acme")
    (tmp_path / "subs.toml").write_text(PRUNE_FILE)
    result = run_cli("apply", tmp_path / "subs.toml", "--prune")
    assert result.returncode == 0, result.stderr


def on_terminal(args, answer: bytes) -> tuple[int, bytes]:
    """Run alpana-hooks ARGS on a pseudo-terminal, answer its question, return (exit code, what it showed)."""
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(sys.executable, [sys.executable, "-m", "alpana_hooks", *map(str, args)], os.environ)
    shown, asked, deadline = b"", False, time.monotonic() + 30
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 1)[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child exited and closed the terminal
            break
        shown += chunk
        if not asked and b"[y/N]" in shown:
            os.write(fd, answer + b"\n")
            asked = True
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown


def test_prune_on_a_terminal_asks_and_no_writes_nothing(prune_file, db_path):
    path, doomed = prune_file
    before = table_rows(db_path)
    code, shown = on_terminal(["apply", path, "--prune"], b"n")
    assert code == 2
    assert f"--prune deletes 1 subscription(s) of acme that the file does not list (ids {doomed})".encode() in shown
    assert b"cancelled: nothing was written" in shown
    assert table_rows(db_path) == before
    code, shown = on_terminal(["apply", path, "--prune"], b"y")
    assert code == 0, shown
    assert urls(db_path) == ["https://kept.example.com/", "https://new.example.com/"]


def test_a_file_tenant_other_than_alpana_hooks_tenant_needs_tenant(prune_file, db_path):
    path, _ = prune_file
    before = table_rows(db_path)
    result = run_cli("apply", path, env={"ALPANA_HOOKS_TENANT": "other"})
    assert (result.returncode, result.stderr) == (
        2, f"error: {path}: the file is for tenant 'acme' but ALPANA_HOOKS_TENANT is 'other'; "
           "give --tenant acme to apply it to acme\n")
    assert table_rows(db_path) == before
    result = run_cli("apply", path, "--tenant", "acme", env={"ALPANA_HOOKS_TENANT": "other"})
    assert result.returncode == 0, result.stderr
    assert "https://new.example.com/" in urls(db_path)


def test_a_config_file_is_read_no_further_than_1_mib():
    result = run_cli("config", "show", "--config", "/dev/zero", preexec_fn=limit_memory(1))
    assert (result.returncode, result.stderr) == (
        2, "error: config /dev/zero: larger than the limit of 1048576 bytes\n")


@pytest.mark.parametrize("url,problem", [
    ("https://x.example:99999/", "the port must be a number from 0 to 65535"),
    ("https://x.example:8o8o/", "the port must be a number from 0 to 65535"),
    ("https://[::1/", "the host in [brackets] must be a valid IPv6 address, closed by ]"),
    ("https://[zz]/", "the host in [brackets] must be a valid IPv6 address, closed by ]"),
])
def test_url_errors_are_in_the_tools_words(cli, url, problem):
    result = cli("add", "-t", "t1", "--event", "dashboard.updated", "--url", url)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: invalid URL {url!r}: {problem}\n")
    assert cli.json("list", "-t", "t1") == []


def test_a_long_value_is_not_echoed_whole(cli):
    tenant = "é" * 5000
    result = cli("list", "-t", tenant)
    assert (result.exit_code, result.stderr) == (2, "error: invalid tenant '" + "é" * 40 + "…" + "é" * 19 + "' "
                                                    "(5,000 characters): use 1-64 ASCII letters, digits, '_', '.' "
                                                    "or '-', starting with a letter or digit\n")


def test_header_names_are_ascii(cli):
    result = cli("add", "-t", "t1", "--event", "dashboard.updated", "--url", "https://x.example/", "-H", "Ünicode: v")
    assert (result.exit_code, result.stderr) == (
        2, "error: invalid header name 'Ünicode': use ASCII letters, digits and !#$%&'*+-.^_`|~ only\n")
