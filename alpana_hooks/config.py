"""Settings: flag > environment > config file > built-in default, and where each came from."""

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from alpana_hooks import __version__
from alpana_hooks.errors import ConfigError, UsageError
from alpana_hooks.timeutil import parse_duration

APP_NAME = "alpana-hooks"
ENV_DB = "ALPANA_HOOKS_DB"
ENV_CONFIG = "ALPANA_HOOKS_CONFIG"
ENV_TENANT = "ALPANA_HOOKS_TENANT"

MAX_CONFIG_BYTES = 1024 * 1024
MAX_PAYLOAD_LIMIT = 1_000_000  # the largest max_payload_bytes: the envelope around it stays under 1 MiB
DEFAULT_RETRY_SCHEDULE = ("5s", "5m", "30m", "2h", "5h", "10h", "10h")

# The config file's keys: section -> key -> (type check, description, default shown in `config show`).
_STR, _NUM, _INT, _BOOL, _LIST = "string", "number", "integer", "boolean", "list of strings"
SCHEMA: dict[str, dict[str, str]] = {
    "": {"database": _STR, "default_tenant": _STR, "server_url": _STR},
    "delivery": {
        "timeout_seconds": _NUM,
        "connect_timeout_seconds": _NUM,
        "max_response_bytes": _INT,
        "max_payload_bytes": _INT,
        "concurrency": _INT,
        "per_host_concurrency": _INT,
        "breaker_failures": _INT,
        "breaker_cooldown": _STR,
        "retry_schedule": _LIST,
        "disable_after": _STR,
        "user_agent": _STR,
    },
    "security": {"allowed_networks": _LIST, "require_https": _BOOL},
    "alerts": {"url": _STR, "secret": _STR},
}


@dataclass(frozen=True)
class Settings:
    """The effective settings of one command run."""

    database: Path | str  # a SQLite file, or a postgresql:// URL (kept as text)
    config_file: Path | None
    tenant: str | None
    server_url: str | None = None
    timeout_seconds: float = 15.0
    connect_timeout_seconds: float = 5.0
    max_response_bytes: int = 20000
    max_payload_bytes: int = 256 * 1024
    concurrency: int = 64
    per_host_concurrency: int = 8
    breaker_failures: int = 5
    breaker_cooldown: timedelta = timedelta(seconds=30)
    retry_schedule: tuple[timedelta, ...] = tuple(parse_duration(d) for d in DEFAULT_RETRY_SCHEDULE)
    disable_after: timedelta = timedelta(days=5)
    user_agent: str = f"alpana-hooks/{__version__}"
    allowed_networks: tuple[str, ...] = ()
    require_https: bool = False
    alerts_url: str | None = None  # [alerts] url: operational events (subscription.disabled, …) go there
    alerts_secret: str | None = None  # [alerts] secret: signs them (whsec_…)
    sources: dict[str, str] = field(default_factory=dict, compare=False)


def app_dir() -> Path:
    """The per-user folder for the database and config file, where Click's get_app_dir puts it (importing Click
    would cost `alpana-hooks ui` a tenth of its start-up): %APPDATA%, ~/Library/Application Support, or
    $XDG_CONFIG_HOME (default ~/.config)."""
    if sys.platform.startswith("win"):
        return Path(os.environ.get("APPDATA") or os.path.expanduser("~"), APP_NAME)
    if sys.platform == "darwin":
        return Path(os.path.expanduser("~/Library/Application Support"), APP_NAME)
    return Path(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")), APP_NAME)


def load_settings(db: str | None = None, config: str | None = None, tenant: str | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting from the flags given, the environment (``env``, os.environ by default) and the config file."""
    environ: Mapping[str, str] = os.environ if env is None else env
    config_file, config_source = _pick(config, environ.get(ENV_CONFIG), None, None, ENV_CONFIG)
    if config_file is None:
        default_config = app_dir() / "config.toml"
        config_file = str(default_config) if default_config.exists() else None
        config_source = "default"
    file_values = _read_config(Path(config_file)) if config_file else {}
    where = f"config {config_file}"
    sources = {"config_file": config_source}
    values: dict = {}

    values["database"], sources["database"] = _database(db, environ.get(ENV_DB), file_values.get("database"), where,
                                                        Path(config_file).parent if config_file else None)
    values["tenant"], sources["tenant"] = _pick(tenant, environ.get(ENV_TENANT), file_values.get("default_tenant"), where, ENV_TENANT)
    for key in ("server_url",):
        if key in file_values:
            values[key], sources[key] = file_values[key], where
    for section in ("delivery", "security"):
        for key, value in file_values.get(section, {}).items():
            values[key], sources[key] = _convert(Path(config_file), section, key, value), where
    values.update(_alerts(file_values.get("alerts", {}), Path(config_file) if config_file else None))
    sources.update({f"alerts_{key}": where for key in file_values.get("alerts", {})})
    for name in Settings.__dataclass_fields__:
        sources.setdefault(name, "default")
    return Settings(config_file=Path(config_file) if config_file else None, sources=sources, **values)


def _alerts(table: dict, path: Path | None) -> dict:
    """[alerts] url and secret: both or neither, the URL checked like a subscription's, the secret whsec_…"""
    from alpana_hooks import validate
    from alpana_hooks.signing import SignatureError, parse_secret

    if not table:
        return {}
    if set(table) != {"url", "secret"}:
        raise ConfigError(f"config {path}: [alerts] needs both url and secret")
    try:
        parse_secret(table["secret"])
        url = validate.url(table["url"], require_https=False)
    except (SignatureError, UsageError) as exc:
        raise ConfigError(f"config {path}: [alerts]: {exc}") from None
    return {"alerts_url": url, "alerts_secret": table["secret"]}


def _pick(flag, env_value, file_value, where, env_name):
    """The first value given, flag > env > file, with where it came from."""
    if flag is not None:
        return flag, "flag"
    if env_value:
        return env_value, f"env {env_name}"
    if file_value is not None:
        return file_value, where
    return None, "default"


def _database(flag: str | None, env_value: str | None, file_value: str | None, where: str,
              config_dir: Path | None) -> tuple[Path | str, str]:
    """The database path (or PostgreSQL URL) and its source; an empty one is an error, never a silent switch to
    the default store. A relative path in the config file is relative to that file's folder."""
    given = ((flag, "--db", "flag"), (env_value, ENV_DB, f"env {ENV_DB}"), (file_value, f"{where}: key 'database'", where))
    for value, name, source in given:
        if value == "":
            raise ConfigError(f"{name} is empty: give the database file's path")
        if value is not None and is_postgres_url(value):
            return value, source
        if value is not None:
            path = Path(value).expanduser()
            return (config_dir / path if source == where and config_dir else path), source
    return default_database(), "default"


def default_database() -> Path:
    """The SQLite file used when no database is given: hooks.db in the user config dir."""
    return app_dir() / "hooks.db"


def check_database_folder(location: Path | str) -> None:
    """A SQLite file's folder must exist (UsageError otherwise), except at the default location, whose folders
    the store creates: a mistyped --db must not leave new folders and an empty database behind."""
    if is_postgres_url(location) or location == default_database():
        return
    folder = Path(os.path.realpath(location)).parent
    if not folder.exists():
        raise UsageError(f"cannot use the database {location}: the folder {folder} does not exist; create it first")


def _read_config(path: Path) -> dict:
    """Read and check the config file's keys and types; errors name the file and the key."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config {path}: cannot read: {exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {path}: larger than the limit of {MAX_CONFIG_BYTES} bytes")
    if sys.version_info >= (3, 11):  # imported here: a run without a config file never parses TOML
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: invalid TOML: {exc}") from None
    for key, value in data.items():
        if key in SCHEMA and key:
            if not isinstance(value, dict):
                raise ConfigError(f"config {path}: [{key}] must be a table")
            for sub_key, sub_value in value.items():
                _check_type(path, key, sub_key, sub_value)
        else:
            _check_type(path, "", key, value)
    return data


def _check_type(path: Path, section: str, key: str, value) -> None:
    """Refuse unknown keys and values of the wrong type."""
    dotted = f"{section}.{key}" if section else key
    expected = SCHEMA.get(section, {}).get(key)
    if expected is None:
        known = ", ".join(f"{s}.{k}" if s else k for s, keys in SCHEMA.items() for k in keys)
        raise ConfigError(f"config {path}: unknown key '{dotted}' (known keys: {known})")
    ok = {
        _STR: isinstance(value, str),
        _NUM: isinstance(value, (int, float)) and not isinstance(value, bool),
        _INT: isinstance(value, int) and not isinstance(value, bool),
        _BOOL: isinstance(value, bool),
        _LIST: isinstance(value, list) and all(isinstance(v, str) for v in value),
    }[expected]
    if not ok:
        raise ConfigError(f"config {path}: key '{dotted}' must be a {expected}, not {value!r}")


def _convert(path: Path, section: str, key: str, value):
    """Turn a checked config value into its Settings form; refuse out-of-range values."""
    dotted = f"{section}.{key}"
    try:
        if key in ("timeout_seconds", "connect_timeout_seconds", "max_response_bytes", "max_payload_bytes", "concurrency",
                   "per_host_concurrency", "breaker_failures"):
            if not value > 0:  # `not >` also refuses nan
                raise ValueError("must be greater than 0")
            if key.endswith("seconds") and value > 86400:  # inf or 1e308 overflow the lease arithmetic
                raise ValueError("must be at most 86400 (a day)")
            if key.endswith("concurrency") and value > 1000:  # 2**63 and up overflow SQLite's LIMIT
                raise ValueError("must be at most 1000")
            if key == "max_payload_bytes" and value > MAX_PAYLOAD_LIMIT:
                raise ValueError(f"must be at most {MAX_PAYLOAD_LIMIT} (listen and verify take bodies up to 1 MiB)")
            return float(value) if key.endswith("seconds") else value
        if key == "retry_schedule":
            return tuple(parse_duration(v) for v in value)
        if key in ("disable_after", "breaker_cooldown"):
            return parse_duration(value)
        if key == "user_agent":
            from alpana_hooks.headers import header_value

            return header_value("User-Agent", value)
        if key == "allowed_networks":
            from alpana_hooks.netpolicy import parse_networks

            parse_networks(value)
            return tuple(value)
        return value
    except (ValueError, UsageError) as exc:
        raise ConfigError(f"config {path}: key '{dotted}': {exc}") from None


def is_postgres_url(value: object) -> bool:
    """Whether a `database` value names a PostgreSQL database rather than a SQLite file."""
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*):[^/@?#]*@")
_PASSWORD_PARAM = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def masked_url(url: str) -> str:
    """A database URL fit to print: its password (in the user part or a password= parameter) as ****."""
    return _PASSWORD_PARAM.sub(r"\1****", _USERINFO.sub(r"\1:****@", url))


def display_database(value: "Path | str") -> str:
    """The `database` setting as messages and `config show` print it."""
    return masked_url(value) if isinstance(value, str) else str(value)
