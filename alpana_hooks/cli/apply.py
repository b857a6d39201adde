"""Subscriptions as code: `export` prints a tenant's subscriptions as TOML, `apply` makes the store match a file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from alpana_hooks.cli import inputs
from alpana_hooks.cli.app import ConfigOpt, DbOpt, JsonOpt, TenantOpt, app, confirm, lazy
from alpana_hooks.cli.context import Run, opened, run_for, settings_for
from alpana_hooks.errors import UsageError

if TYPE_CHECKING:
    from alpana_hooks.apply import Step
    from alpana_hooks.config import Settings
    from alpana_hooks.model import Subscription

plans = lazy("alpana_hooks.apply")
output = lazy("alpana_hooks.output")
validate = lazy("alpana_hooks.validate")

MAX_FILE_BYTES = 4 * 1024 * 1024


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
    prune: Annotated[bool, typer.Option("--prune", help="Also delete the tenant's subscriptions the file does not list (asks first).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --prune deletes (required without a terminal).")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Make the tenant's subscriptions match a TOML file: create, update and (with --prune) delete."""
    settings = settings_for(db, config, tenant)
    source = "<stdin>" if file == "-" else file
    wanted = plans.parse(_read(file), source, env=os.environ, require_https=settings.require_https)
    run = Run(settings=settings, tenant=validate.tenant(_tenant(wanted.tenant, tenant, settings, source) or settings.tenant))
    with opened(run.settings) as hooks:
        agreed = None
        if prune and not dry_run and not yes:  # ask outside the transaction: a person's answer must not hold the lock
            agreed = _confirm_prune(run.tenant, hooks.apply(run.tenant, wanted, prune=True, dry_run=True)[1])
        steps, unlisted = hooks.apply(run.tenant, wanted, prune=prune, dry_run=dry_run, agreed=agreed)
    _report(run.tenant, steps, dry_run, json)
    if not prune:
        _unlisted_note(run.tenant, unlisted)


def _read(file: str) -> str:
    """The file's text (stdin for -), at most MAX_FILE_BYTES; a missing, unreadable or larger file is bad input."""
    return inputs.read_text(file, MAX_FILE_BYTES, "subscriptions file")


def _tenant(file_tenant: str | None, flag: str | None, settings: Settings, file: str) -> str | None:
    """The file's tenant wins over default_tenant; --tenant must agree with it, and so must ALPANA_HOOKS_TENANT
    when it is set and --tenant is not given."""
    from alpana_hooks.config import ENV_TENANT

    if file_tenant is None:
        return flag
    if flag is not None and validate.tenant(flag) != file_tenant:
        raise UsageError(f"{file}: the file is for tenant {file_tenant!r} but --tenant is {flag!r}")
    if flag is None and settings.sources["tenant"] == f"env {ENV_TENANT}" and settings.tenant != file_tenant:
        raise UsageError(f"{file}: the file is for tenant {file_tenant!r} but {ENV_TENANT} is {settings.tenant!r}; "
                         f"give --tenant {file_tenant} to apply it to {file_tenant}")
    return file_tenant


def _confirm_prune(tenant: str, doomed: list[Subscription]) -> set[int]:
    """Ask before --prune deletes anything (without a terminal: exit 2); the ids a person agreed to delete."""
    if doomed:
        ids = ", ".join(str(sub.id) for sub in doomed)
        confirm(f"--prune deletes {len(doomed)} subscription(s) of {tenant} that the file does not list (ids {ids}). "
                "Delete them?", command="apply --prune", cancelled="nothing was written")
    return {sub.id for sub in doomed}


def _report(tenant: str, steps: list[Step], dry_run: bool, json: bool) -> None:
    """The plan (table or JSON) on stdout, a summary on stderr."""
    entries = [plans.step_json(step) for step in steps]
    words = plans.FUTURE if dry_run else plans.PAST
    if json:
        output.print_json(entries)
    elif entries:
        title = f"Plan for tenant {tenant} (dry run)" if dry_run else f"Applied to tenant {tenant}"
        output.show(output.plan_table(entries, title=title))
    counts = ", ".join(f"{sum(step.action == action for step in steps)} {word}" for action, word in words.items())
    output.message(f"{tenant}: {counts}" + ("; dry run: nothing was written." if dry_run else "."))
    if not dry_run and any(step.action == plans.PlanAction.CREATE for step in steps):
        output.message(f"note: each new subscription has a signing secret; `alpana-hooks secret show ID -t {tenant}`"
                       " reveals it.")


def _unlisted_note(tenant: str, subs: list[Subscription]) -> None:
    """Without --prune, say what the file leaves alone."""
    if subs:
        ids = ", ".join(str(sub.id) for sub in subs)
        output.message(f"note: {len(subs)} subscription(s) of {tenant} not in the file were kept (ids {ids});"
                       " --prune deletes them.")
