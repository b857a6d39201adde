"""The `ui` command: the terminal UI (alpana_hooks.ui), imported only when it runs.

`alpana-hooks ui` is the one command that starts slowly enough to notice (Textual), so cli.main() gives it a
fast path: when its arguments are only ui's own options, plainly written, they are read here from the same
definitions and the UI starts without Typer's argument parsing (which on Typer 0.29 imports pydantic).
"""

from __future__ import annotations

import sys

import typer

from alpana_hooks.cli.app import ConfigOpt, DbOpt, TenantOpt, app
from alpana_hooks.cli.context import settings_for
from alpana_hooks.cli.groups import build, guarded, is_utf8
from alpana_hooks.errors import UsageError

INSTALL_HINT = "the terminal UI needs Textual: pip install 'alpana-hooks[ui]'"


@app.command()
def ui(tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None):
    """Terminal UI: a tenant's webhooks, details, send attempts (live), Show Data and Resend, on the keyboard."""
    code = start(tenant=tenant, db=db, config=config)
    if code:
        raise typer.Exit(code)


def start(tenant: str | None = None, db: str | None = None, config: str | None = None) -> int:
    """Check the settings, Textual and the terminal, then run the UI; its exit code."""
    from alpana_hooks import validate

    settings = settings_for(db, config, tenant)
    chosen = validate.tenant(settings.tenant) if settings.tenant else None  # none: the UI asks
    try:
        import textual  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("ui needs a terminal (stdin and stdout)")
    from alpana_hooks.ui import run

    return run(settings, chosen)


def plain_options(args: list[str]) -> dict[str, str] | None:
    """ui's options in `args` when each is given at most once as `--name VALUE`, `--name=VALUE` or `-t VALUE`
    (the option names from ui's own Click command); None for anything else, which Typer then parses."""
    names = {flag: param.name for param in build("ui").params for flag in param.opts}
    found: dict[str, str] = {}
    rest = list(args)
    while rest:
        flag, equals, value = rest.pop(0).partition("=")
        if flag not in names or names[flag] in found or (equals and not flag.startswith("--")):
            return None
        if not equals:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        found[names[flag]] = value
    return found if all(is_utf8(value) for value in found.values()) else None


def fast_path(args: list[str]) -> None:
    """Run the UI and exit when `args` (after `ui`) are plain options; else return and let Typer parse them."""
    options = plain_options(args)
    if options is None:
        return
    try:
        code = guarded(lambda: start(**options))
    except typer.Exit as exc:
        code = exc.exit_code
    raise SystemExit(code)
