"""On-call commands: filter test, and the views of emit --dry-run (built with output's table and escaping)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from alpana_hooks import output
from alpana_hooks.cli.app import MAX_ID, ConfigOpt, DbOpt, JsonOpt, TenantOpt, filter_app
from alpana_hooks.cli.context import opened, run_for

if TYPE_CHECKING:
    from rich.table import Table

    from alpana_hooks.model import DryRun, FilterCheck

SubId = Annotated[int, typer.Argument(help="Subscription id.", min=1, max=MAX_ID, show_default=False)]


@filter_app.command("test")
def filter_test(
    sub_id: SubId,
    data: Annotated[Optional[str], typer.Option("--data", help="Event data as JSON, or @FILE (@- reads stdin), taken as an event of the subscription's type.", show_default=False)] = None,
    event: Annotated[Optional[str], typer.Option("--event", help="A recorded event's id (evt_…).", show_default=False)] = None,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Say whether a subscription's filter matches an event, and why."""
    from alpana_hooks.cli.events import read_data

    run = run_for(db, config, tenant)
    payload = read_data(data, run.settings.max_payload_bytes) if data is not None else None
    with opened(run.settings) as hooks:
        check = hooks.filter_test(run.tenant, sub_id, data=payload, event_id=event)
    output.render(check, json=json, as_json=filter_check_json, as_table=filter_check_text)


def filter_check_json(check: FilterCheck) -> dict:
    """`filter test --json`."""
    return {"subscription_id": check.subscription_id, "filter": check.filter, "matched": check.matched,
            "value": check.value, "reason": check.reason}


def filter_check_text(check: FilterCheck) -> str:
    """`filter test`: match or no match, the filter, and why."""
    verdict = "match" if check.matched else "no match"
    lines = [f"{verdict}: subscription {check.subscription_id}"]
    if check.filter is not None:
        lines.append(f"filter: {output.escape(check.filter)}")
    lines.append(f"why:    {output.escape(check.reason)}")
    return "\n".join(lines)


def show_dry_run(planned: DryRun, tenant: str, json: bool) -> None:
    """Print what emit --dry-run found: the table (none when no subscription takes the event), then a note."""
    if json:
        output.print_json(dry_run_json(planned))
        return
    if planned.recipients:
        output.show(dry_run_table(planned))
    output.message(dry_run_note(planned, tenant))


def dry_run_json(planned: DryRun) -> dict:
    """`emit --dry-run --json`."""
    return {"type": planned.event_type, "fires": planned.fires, "note": planned.note,
            "recipients": [{**output.subscription_json(r.subscription), "receives": r.receives, "reason": r.reason}
                           for r in planned.recipients]}


def dry_run_table(planned: DryRun) -> Table:
    """`emit --dry-run`: each subscription of the type, whether it would receive the event, and why."""
    grid = output.table("Sub", "URL", "State", "Filter", "Would send", "Why")
    for r in planned.recipients:
        sub = r.subscription
        grid.add_row(str(sub.id), output.escape(sub.url), output.escape(output.state_label(sub)),
                     output.escape(sub.filter or ""), "yes" if r.receives else "no", output.escape(r.reason))
    return grid


def dry_run_note(planned: DryRun, tenant: str) -> str:
    """The line under a dry run."""
    if not planned.fires:
        return planned.note or "would not fire"
    if not planned.recipients:
        return f"dry run: no subscription in {tenant} for {planned.event_type}; nothing recorded or sent"
    count = sum(r.receives for r in planned.recipients)
    return f"dry run: would send to {count} of {len(planned.recipients)} subscription(s); nothing recorded or sent"
