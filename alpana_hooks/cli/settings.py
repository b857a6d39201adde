"""`config show`: the effective settings and where each came from."""

from __future__ import annotations

from alpana_hooks.cli.app import ConfigOpt, DbOpt, JsonOpt, TenantOpt, app, config_app, lazy
from alpana_hooks.cli.context import settings_for

output = lazy("alpana_hooks.output")
config = lazy("alpana_hooks.config")
timeutil = lazy("alpana_hooks.timeutil")

# SQLite releases with the WAL-reset race (sqlite.org/wal.html#walresetbug): 3.7.0 to 3.51.2, except these backports.
_WAL_RESET_FIXED = {(3, 44, 6), (3, 50, 7)}


def sqlite_warning(version: tuple[int, int, int]) -> str | None:
    """A warning when the linked SQLite has the WAL-reset bug, else None."""
    if (3, 7, 0) <= version <= (3, 51, 2) and version not in _WAL_RESET_FIXED:
        return ("this SQLite has the WAL-reset race (sqlite.org/wal.html#walresetbug): with several processes writing "
                "at once, committed data can be lost; use a Python linked with SQLite 3.51.3 or newer")
    return None


def typed_value(settings, name: str):
    """A setting as it is written in config.toml: a number, a boolean, a list, a string, or None."""
    raw = getattr(settings, name)
    if name == "retry_schedule":
        return [timeutil.format_duration(step) for step in raw]
    if name == "disable_after":
        return timeutil.format_duration(raw)
    if name == "database":
        return config.display_database(raw)
    if name == "alerts_secret" and raw is not None:
        return "********"
    if name == "allowed_networks":
        return list(raw)
    return raw if raw is None or isinstance(raw, (bool, int, float, str)) else str(raw)


def _shown(value) -> str:
    """A typed value as a table cell."""
    if isinstance(value, list):
        return ", ".join(value) or "(none)"
    if isinstance(value, bool):
        return str(value).lower()
    return "(none)" if value is None else str(value)


def _names(settings) -> list[str]:
    return [n for n in type(settings).__dataclass_fields__ if n != "sources"]


app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Print each effective setting, where it came from, and the linked SQLite version."""
    import sqlite3

    settings = settings_for(db, config, tenant)
    values = {name: typed_value(settings, name) for name in _names(settings)}
    sources = {name: settings.sources.get(name, "default") for name in values}
    warning = sqlite_warning(sqlite3.sqlite_version_info)
    if json:
        output.print_json({
            "settings": {name: {"value": value, "source": sources[name]} for name, value in values.items()},
            "sqlite_version": sqlite3.sqlite_version,
            "sqlite_warning": warning,
        })
        return
    rows = [(name, _shown(value), sources[name]) for name, value in values.items()]
    output.show(output.settings_table(rows + [("sqlite_version", sqlite3.sqlite_version, "linked library")]))
    if warning:
        output.message(f"warning: SQLite {sqlite3.sqlite_version}: {warning}")
