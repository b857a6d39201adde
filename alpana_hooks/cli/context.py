"""What a command needs before it does its one call: settings, tenant, store."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alpana_hooks.config import Settings


@dataclass(frozen=True)
class Run:
    """The settings and tenant of one command run."""

    settings: Settings
    tenant: str


def settings_for(db: str | None, config: str | None, tenant: str | None = None) -> Settings:
    """Resolve the settings from the flags, the environment and the config file."""
    from alpana_hooks.config import load_settings

    return load_settings(db=db, config=config, tenant=tenant)


def run_for(db: str | None, config: str | None, tenant: str | None) -> Run:
    """Settings plus a checked tenant (exit 2 when there is none)."""
    from alpana_hooks import validate

    settings = settings_for(db, config, tenant)
    return Run(settings=settings, tenant=validate.tenant(settings.tenant))


@contextmanager
def opened(settings: Settings):
    """The store for these settings, closed afterwards."""
    from alpana_hooks.store import Store

    store = Store.open(settings.database)
    try:
        yield store
    finally:
        store.close()
