"""Input, secrets and files (issue 15): secrets off the command line, private files, capped reads, header rules,
the database path, apply --prune. Real subprocesses, real files, a real receiver."""

import os
import stat
import subprocess
import sys

import pytest

from conftest import db_rows, limit_memory, run_cli, table_rows

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
    assert cli("emit", "widget.added", "-t", "t1", "--id", "7", "--name", "W", "--url", "https://bi/w/7").exit_code == 0
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
