"""Subscriptions as code: `export` prints a tenant's subscriptions as TOML, `apply` makes the store match a file."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alpana_hooks import output, validate
from alpana_hooks.cli.app import ConfigOpt, DbOpt, JsonOpt, TenantOpt, app, lazy
from alpana_hooks.cli.context import Run, opened, run_for, settings_for
from alpana_hooks.errors import UsageError
from alpana_hooks.model import PlanAction, Subscription

if TYPE_CHECKING:
    from alpana_hooks.apply import Step

plans = lazy("alpana_hooks.apply")

PAST = {PlanAction.CREATE: "created", PlanAction.UPDATE: "updated", PlanAction.UNCHANGED: "unchanged",
        PlanAction.DELETE: "deleted"}
FUTURE = {PlanAction.CREATE: "to create", PlanAction.UPDATE: "to update", PlanAction.UNCHANGED: "unchanged",
          PlanAction.DELETE: "to delete"}


@app.command()
def export(
    reveal: Annotated[bool, typer.Option("--reveal", help="Write sensitive header values instead of ${ALPANA_…} placeholders.")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Print the tenant's subscriptions as a TOML file for `apply` (never the signing secrets)."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        subs = hooks.subscriptions(run.tenant)
    document = plans.export_document(run.tenant, subs, reveal=reveal)
    if json:
        output.print_json(document)
    else:
        output.print_text(plans.to_toml(document))
    if not reveal:
        _placeholder_notes(plans.placeholders(subs))


def _placeholder_notes(found: dict[str, set[str]]) -> None:
    """Say which variables `apply` will need, and which stand for several different values."""
    if found:
        output.message(f"note: sensitive header values were written as placeholders; set {', '.join(sorted(found))}"
                       " before `apply` (or export with --reveal)")
    for name in sorted(name for name, values in found.items() if len(values) > 1):
        output.message(f"warning: ${{{name}}} stands for {len(found[name])} different values; "
                       "give each its own variable before `apply`")


@app.command("apply")
def apply_(
    file: Annotated[str, typer.Argument(help="Subscriptions file (TOML, as `export` writes it); - reads stdin.", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and write nothing.")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="Also delete the tenant's subscriptions the file does not list.")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Make the tenant's subscriptions match a TOML file: create, update and (with --prune) delete."""
    settings = settings_for(db, config, tenant)
    source = "<stdin>" if file == "-" else file
    wanted = plans.parse(_read(file), source, env=os.environ, require_https=settings.require_https)
    run = Run(settings=settings, tenant=validate.tenant(_tenant(wanted.tenant, tenant, source) or settings.tenant))
    with opened(run.settings) as hooks:
        steps, unlisted = hooks.apply(run.tenant, wanted, prune=prune, dry_run=dry_run)
    _report(run.tenant, steps, dry_run, json)
    if not prune:
        _unlisted_note(run.tenant, unlisted)


def _read(file: str) -> str:
    """The file's text (stdin for -); a missing or unreadable file is bad input."""
    try:
        return (sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()).decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"{file}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot read: {exc}") from None


def _tenant(file_tenant: str | None, flag: str | None, file: str) -> str | None:
    """The file's tenant wins over env and config; --tenant must agree with it."""
    if file_tenant is not None and flag is not None and validate.tenant(flag) != file_tenant:
        raise UsageError(f"{file}: the file is for tenant {file_tenant!r} but --tenant is {flag!r}")
    return file_tenant if file_tenant is not None else flag


def _report(tenant: str, steps: list[Step], dry_run: bool, json: bool) -> None:
    """The plan (table or JSON) on stdout, a summary on stderr."""
    entries = [plans.step_json(step) for step in steps]
    words = FUTURE if dry_run else PAST
    if json:
        output.print_json(entries)
    elif entries:
        title = f"Plan for tenant {tenant} (dry run)" if dry_run else f"Applied to tenant {tenant}"
        output.show(output.plan_table(entries, title=title))
    counts = ", ".join(f"{sum(step.action == action for step in steps)} {word}" for action, word in words.items())
    output.message(f"{tenant}: {counts}" + ("; dry run: nothing was written." if dry_run else "."))
    if not dry_run and any(step.action == PlanAction.CREATE for step in steps):
        output.message(f"note: each new subscription has a signing secret; `alpana-hooks secret show ID -t {tenant}`"
                       " reveals it.")


def _unlisted_note(tenant: str, subs: list[Subscription]) -> None:
    """Without --prune, say what the file leaves alone."""
    if subs:
        ids = ", ".join(str(sub.id) for sub in subs)
        output.message(f"note: {len(subs)} subscription(s) of {tenant} not in the file were kept (ids {ids});"
                       " --prune deletes them.")
