"""Settings: flag > env > config file > default; `config show`; config file errors."""

import sqlite3
from pathlib import Path

import pytest

from alpana_hooks.cli.settings import sqlite_warning
from alpana_hooks.config import load_settings


def test_precedence_and_sources(tmp_path, config_path):
    config_path.write_text('database = "/from/file.db"\ndefault_tenant = "ft"\n[delivery]\ntimeout_seconds = 3\n')
    env = {"ALPANA_HOOKS_CONFIG": str(config_path)}
    settings = load_settings(env=env)
    assert str(settings.database) == "/from/file.db" and settings.tenant == "ft" and settings.timeout_seconds == 3.0
    assert settings.sources["database"] == f"config {config_path}"
    settings = load_settings(env={**env, "ALPANA_HOOKS_DB": "/from/env.db", "ALPANA_HOOKS_TENANT": "et"})
    assert (str(settings.database), settings.tenant) == ("/from/env.db", "et")
    assert settings.sources["tenant"] == "env ALPANA_HOOKS_TENANT"
    settings = load_settings(db="/flag.db", tenant="flagt", env={**env, "ALPANA_HOOKS_DB": "/from/env.db"})
    assert (str(settings.database), settings.tenant, settings.sources["database"]) == ("/flag.db", "flagt", "flag")
    assert settings.sources["connect_timeout_seconds"] == "default" and settings.connect_timeout_seconds == 5.0


def test_default_database_lives_in_the_app_dir(tmp_path, monkeypatch):
    settings = load_settings(env={})
    assert settings.database.name == "hooks.db" and "alpana-hooks" in str(settings.database.parent)


@pytest.mark.parametrize("xdg", ["/srv/xdg", None])
def test_the_app_dir_is_where_typer_puts_it(monkeypatch, xdg):
    """config.app_dir() stands in for typer.get_app_dir, so `ui` need not import Typer (tests/test_startup.py)."""
    import typer

    from alpana_hooks.config import APP_NAME, app_dir

    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert app_dir() == Path(typer.get_app_dir(APP_NAME))


@pytest.mark.parametrize("text, message", [
    ("[delivery]\ntimout_seconds = 3\n", "unknown key 'delivery.timout_seconds'"),
    ("databse = 'x'\n", "unknown key 'databse'"),
    ("[delivery]\ntimeout_seconds = 'fast'\n", "key 'delivery.timeout_seconds' must be a number"),
    ("[security]\nrequire_https = 'yes'\n", "key 'security.require_https' must be a boolean"),
    ("[delivery]\nretry_schedule = ['5s', 'soon']\n", "key 'delivery.retry_schedule': invalid duration 'soon'"),
    ("[security]\nallowed_networks = ['10.0.0.0/33']\n", "key 'security.allowed_networks'"),
    ("[delivery]\nconcurrency = 0\n", "key 'delivery.concurrency': must be greater than 0"),
    ("database = \n", "invalid TOML"),
])
def test_config_errors_name_file_and_key_and_exit_2(cli, config_path, db_path, text, message):
    config_path.write_text(text)
    result = cli("list", "--tenant", "t1")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(config_path) in lines[0] and message in lines[0], result.stderr
    assert not db_path.exists()


def test_invalid_toml_names_line_and_column(cli, config_path):
    config_path.write_text('server_url = "https://x"\n[delivery\n')
    result = cli("config", "show")
    assert result.exit_code == 2 and "line 2" in result.stderr and "column" in result.stderr


def test_missing_explicit_config_is_an_error(cli, tmp_path):
    result = cli("config", "show", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2 and "file not found" in result.stderr


def test_config_show_json_reports_values_sources_and_sqlite(cli, config_path, db_path):
    shown = cli.json("config", "show", "--tenant", "t9")
    assert shown["settings"]["tenant"] == {"value": "t9", "source": "flag"}
    assert shown["settings"]["database"] == {"value": str(db_path), "source": "env ALPANA_HOOKS_DB"}
    assert shown["settings"]["allowed_networks"]["source"] == f"config {config_path}"
    values = {name: entry["value"] for name, entry in shown["settings"].items()}
    assert values["retry_schedule"] == ["5s", "5m", "30m", "2h", "5h", "10h", "10h"]  # as written in config.toml
    assert values["disable_after"] == "5d"
    assert (values["timeout_seconds"], values["concurrency"], values["require_https"]) == (15.0, 64, False)
    assert values["server_url"] is None and isinstance(values["allowed_networks"], list)
    assert shown["sqlite_version"] == sqlite3.sqlite_version
    assert (shown["sqlite_warning"] is None) == (sqlite_warning(sqlite3.sqlite_version_info) is None)


def test_sqlite_warning_versions():
    assert sqlite_warning((3, 40, 1))
    assert sqlite_warning((3, 51, 2))
    assert sqlite_warning((3, 44, 6)) is None and sqlite_warning((3, 50, 7)) is None
    assert sqlite_warning((3, 51, 3)) is None


def test_example_config_lists_every_key_with_its_default(tmp_path):
    from pathlib import Path

    from alpana_hooks.config import SCHEMA, Settings, load_settings

    example = Path(__file__).parent.parent / "examples" / "config.toml"
    text = example.read_text()
    for section, keys in SCHEMA.items():
        for key in keys:
            assert f"{key} =" in text or f"# {key} =" in text, key
    loaded = load_settings(db="/x.db", config=str(example), env={})
    defaults = Settings(database=loaded.database, config_file=None, tenant=None)
    for name in ("timeout_seconds", "connect_timeout_seconds", "max_response_bytes", "max_payload_bytes", "concurrency", "retry_schedule",
                 "per_host_concurrency", "breaker_failures", "breaker_cooldown",
                 "disable_after", "require_https"):
        assert getattr(loaded, name) == getattr(defaults, name), name


def test_postgres_url_is_kept_as_text_and_shown_masked(cli, config_path, monkeypatch):
    url = "postgresql://alpana:s3cret@db.example.com:5432/hooks?sslmode=require"
    monkeypatch.setenv("ALPANA_HOOKS_DB", url)
    assert load_settings().database == url
    shown = cli.json("config", "show")
    assert shown["settings"]["database"]["value"] == "postgresql://alpana:****@db.example.com:5432/hooks?sslmode=require"
    table = cli("config", "show")
    assert "s3cret" not in table.stdout + table.stderr and "alpana:****@db.example.com" in table.stdout


def test_masked_url_hides_every_form_of_password():
    from alpana_hooks.config import masked_url

    assert masked_url("postgresql://u:p@h/db") == "postgresql://u:****@h/db"
    assert masked_url("postgres://h/db?user=u&password=p&sslmode=require") == "postgres://h/db?user=u&password=****&sslmode=require"
    assert masked_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert masked_url("postgresql://u:p%40x@[::1]:5/d") == "postgresql://u:****@[::1]:5/d"


def test_unreachable_postgres_is_one_line_exit_1_with_the_password_masked(cli):
    result = cli("list", "-t", "t1", "--db", "postgresql://u:s3cret@127.0.0.1:9/db?connect_timeout=2")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "s3cret" not in result.stderr
    assert "cannot connect to postgresql://u:****@127.0.0.1:9/db" in result.stderr
