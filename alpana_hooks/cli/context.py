"""What a command needs before it does its one call: settings, tenant, store."""

from contextlib import contextmanager
from dataclasses import dataclass

from alpana_hooks import validate
from alpana_hooks.config import Settings, load_settings
from alpana_hooks.store import Store


@dataclass(frozen=True)
class Run:
    """The settings and tenant of one command run."""

    settings: Settings
    tenant: str


def settings_for(db: str | None, config: str | None, tenant: str | None = None) -> Settings:
    """Resolve the settings from the flags, the environment and the config file."""
    return load_settings(db=db, config=config, tenant=tenant)


def run_for(db: str | None, config: str | None, tenant: str | None) -> Run:
    """Settings plus a checked tenant (exit 2 when there is none)."""
    settings = settings_for(db, config, tenant)
    return Run(settings=settings, tenant=validate.tenant(settings.tenant))


@contextmanager
def opened(settings: Settings):
    """The store for these settings, closed afterwards."""
    store = Store.open(settings.database)
    try:
        yield store
    finally:
        store.close()
