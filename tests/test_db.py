"""db status and db copy: which database and what it holds; moving a team's store over, ids kept."""

import json

import pytest

from alpana_hooks.store import SCHEMA_VERSION


@pytest.fixture
def other_database(backend, request, tmp_path):
    """A second, empty database on the other backend: the target of a copy."""
    if backend == "sqlite":
        return request.getfixturevalue("postgres_server").create()
    return tmp_path / "copy.db"


def _populate(cli, add_sub, receiver):
    rx = receiver(lambda path, *a: (500, {}, b"no") if path == "/bad" else None)
    good = add_sub(rx.url("/good"), "dashboard.updated", "t1", "-H", "X-Team: bi")
    add_sub(rx.url("/bad"), "dashboard.updated", "t1")
    gone = add_sub(rx.url("/gone"), "widget.added", "t2")
    cli("secret", "rotate", good["id"], "-t", "t1", "--grace", "1h")
    for version in (1, 2):
        cli("emit", "dashboard.updated", "-t", "t1", "--id", "42", "--name", "Sales", "--item-url", "https://x/",
            "--version", version)
    cli("emit", "widget.added", "-t", "t2", "--id", "7", "--name", "W", "--item-url", "https://x/", "--no-send")
    cli("delete", gone["id"], "-t", "t2", "--yes")  # the largest id: a copy must not hand it out again
    return gone["id"]


def _views(cli, db):
    """What the commands show of both tenants, as JSON."""
    views = {}
    for tenant in ("t1", "t2"):
        for args in (["list"], ["attempts", "list"], ["events", "list"]):
            views[(tenant, *args)] = cli.json(*args, "-t", tenant, "--db", db)
        for sub in views[(tenant, "list")]:
            views[(tenant, "secret", sub["id"])] = cli.json("secret", "show", sub["id"], "-t", tenant, "--db", db)
    return views


def test_status_prints_backend_schema_and_rows(cli, add_sub, backend):
    add_sub("https://e.com/a", "widget.added")
    status = cli.json("db", "status")
    assert status["backend"] == ("postgresql" if backend == "postgres" else "sqlite")
    assert status["schema_version"] == SCHEMA_VERSION == 7
    assert status["rows"]["subscriptions"] == 1 and status["rows"]["subscription_secrets"] == 1
    assert status["rows"]["attempts"] == 0
    assert (status["sqlite_version"] is None) == (backend == "postgres")
    assert "\nsubscriptions\t1\nsubscription_headers\t0\nsubscription_secrets\t1\n" in cli("db", "status").stdout


@pytest.mark.postgres_only
def test_status_masks_the_password(cli, db_path):
    url = db_path.replace("postgresql://postgres:@", "postgresql://postgres:s3cret@")
    result = cli("db", "status", "--db", url, "--json")
    assert "s3cret" not in result.stdout + result.stderr
    assert json.loads(result.stdout)["database"].startswith("postgresql://postgres:****@")


def test_copy_keeps_ids_and_counts_and_refuses_a_target_with_data(cli, add_sub, receiver, db_path, other_database):
    gone = _populate(cli, add_sub, receiver)
    before = _views(cli, db_path)
    result = cli("db", "copy", "--to", other_database, "--json")
    assert result.exit_code == 0, result.stderr
    copied = json.loads(result.stdout)
    assert all(side["source"] == side["target"] for side in copied["rows"].values())
    assert copied["rows"]["attempts"]["source"] >= 5 and copied["rows"]["resources"]["target"] == 2
    assert "attempts:" in result.stderr  # progress
    assert _views(cli, other_database) == before

    again = cli("db", "copy", "--to", other_database)
    assert again.exit_code == 2 and "already holds data" in again.stderr and "--force" in again.stderr
    assert cli("db", "copy", "--to", other_database, "--force").exit_code == 0
    assert _views(cli, other_database) == before

    # the copy goes on where the source left off: ids are not reused, the rename rule remembers version 2
    new = cli.json("add", "-t", "t1", "--event", "widget.added", "--url", "https://e.com/new", "--db", other_database)
    assert new["id"] == gone + 1
    renamed = cli("emit", "dashboard.updated", "-t", "t1", "--id", "42", "--name", "Renamed", "--item-url",
                  "https://x/", "--version", "2", "--no-send", "--db", other_database)
    assert renamed.exit_code == 0 and "not fired" in renamed.stderr


def test_copy_to_itself_is_refused(cli, add_sub, db_path):
    add_sub("https://e.com/a", "widget.added")
    result = cli("db", "copy", "--to", str(db_path))
    assert result.exit_code == 2 and "being copied" in result.stderr
