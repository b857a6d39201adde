"""emit and ping once their options are read: the payload, the call, the report. Nothing here imports Typer, so
the console script runs `emit` with plain options without it (__main__.py): Typer's import and the building of
emit's 19 options were ~55 ms of a ~400 ms emit to 200 subscriptions. cli/events.py's commands read the
options through Typer and call the same functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alpana_hooks import events, output
from alpana_hooks.cli import inputs
from alpana_hooks.cli.context import opened, run_for
from alpana_hooks.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from alpana_hooks.output.grid import Grid
    from alpana_hooks.results import DryRun, EmitResult


def emit(event_type: str, *, id: str | None = None, name: str | None = None, url: str | None = None,
         version: int | None = None, copied_from: str | None = None, target: str | None = None,
         target_id: str | None = None, target_name: str | None = None, comment_id: str | None = None,
         comment_url: str | None = None, data: str | None = None, event_id: str | None = None,
         no_send: bool = False, dry_run: bool = False, tenant: str | None = None, db: str | None = None,
         config: str | None = None, json: bool = False, old_url: str | None = None) -> int:
    """`alpana-hooks emit`, given its options; the exit code. old_url: the value of the hidden --url, the old
    name of --item-url (only the Typer command takes it)."""
    run = run_for(db, config, tenant)
    if dry_run and no_send:
        raise UsageError("give either --dry-run or --no-send, not both")
    if old_url is not None:
        output.message("warning: emit --url is now --item-url (--url names an endpoint elsewhere)")
        url = url if url is not None else old_url
    try:
        event_type = events.get_event_type(event_type).name
        if data is not None:
            flags = [id, name, url, version, copied_from, target, target_id, target_name, comment_id, comment_url]
            if any(flag is not None for flag in flags):
                raise UsageError("give either --data or the field flags, not both")
            payload = inputs.read_data(data, run.settings.max_payload_bytes)
        else:
            payload = events.build_data(
                event_type, id=id, name=name, url=url, version=version, copied_from=copied_from, target=target,
                target_id=target_id, target_name=target_name, comment_id=comment_id, comment_url=comment_url,
                server_url=run.settings.server_url, tenant=run.tenant,
            )
    except (events.UnknownEventType, events.PayloadError) as exc:
        raise UsageError(str(exc)) from None
    with opened(run.settings) as hooks:
        if dry_run:
            show_dry_run(hooks.emit_dry_run(run.tenant, event_type, payload, event_id=event_id), run.tenant, json)
            return ExitCode.OK
        result = hooks.emit(run.tenant, event_type, payload, event_id=event_id, send=not no_send)
    return report(run.tenant, result, json)


def ping(sub_id: int, *, tenant: str | None = None, db: str | None = None, config: str | None = None,
         json: bool = False) -> int:
    """`alpana-hooks ping`, given its options; the exit code."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        result = hooks.ping(run.tenant, sub_id)
    return report(run.tenant, result, json)


def report(tenant: str, result: EmitResult, json: bool) -> int:
    """One row per attempt (or JSON), a note on stderr; the exit code: 4 when a delivery failed."""
    if result.duplicate:
        note = f"event {result.event_id} was already recorded; nothing sent again"
    elif not result.fired:
        note = "not fired: only the name changed"
    elif not result.attempts:
        note = f"no active subscription in {tenant} for {result.event_type}"
    else:
        note = None
    if result.skipped_by_filter:
        skipped = f"{result.skipped_by_filter} subscription(s) skipped by their filter"
        note = (f"{note}; {skipped}" if note
                else f"event {result.event_id}: {len(result.attempts)} attempt(s); {skipped}")
    if json:
        output.print_json({"event_id": result.event_id, "event": result.event_type, "fired": result.fired,
                           "duplicate": result.duplicate, "skipped_by_filter": result.skipped_by_filter,
                           "note": note,
                           "attempts": [output.attempt_json(a) for a in result.attempts]})
    else:
        if result.attempts:
            output.show(output.emit_table(result.attempts))
        output.message(note or f"event {result.event_id}: {len(result.attempts)} attempt(s)")
    return ExitCode.DELIVERY_FAILED if result.any_failed else ExitCode.OK


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


def dry_run_table(planned: DryRun) -> Grid:
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
