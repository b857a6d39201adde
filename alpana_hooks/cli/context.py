"""What a command needs before it does its one call: settings, tenant, store."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from alpana_hooks.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from alpana_hooks.api import Hooks
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
def opened(settings: Settings) -> Iterator[Hooks]:
    """The API on the store these settings name, closed afterwards."""
    from alpana_hooks.api import Hooks

    with Hooks.with_settings(settings) as hooks:
        yield hooks


def duration(text: str):
    """A --older-than / --grace / --tolerance value as a timedelta; exit 2 when it is not one."""
    from alpana_hooks.timeutil import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def since_option(text: str | None):
    """A --since value (a duration ago, or a time) as a datetime, or None."""
    from alpana_hooks.timeutil import parse_since, utcnow

    if text is None:
        return None
    try:
        return parse_since(text, utcnow())
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def warn_if_unknown_tenant(hooks: Hooks, tenant: str) -> None:
    """After a command found nothing: a warning on stderr when the tenant has no subscription and no event at
    all (a mistyped --tenant looks just like an empty one otherwise)."""
    from alpana_hooks import output

    known = hooks.tenants()
    if tenant not in known:
        listed = ", ".join(known[:10]) + (", …" if len(known) > 10 else "") if known else "none yet"
        output.message(f"warning: tenant {tenant} has no subscriptions or events (known tenants: {listed})")
