"""Send-attempt commands: attempts list|show|prune, resend, deliver."""

import time
from typing import Annotated, Optional

import typer

from alpana_hooks import output
from alpana_hooks.cli.app import (
    MAX_ID, ConfigOpt, DbOpt, JsonOpt, TenantOpt, app, attempts_app, confirm,
)
from alpana_hooks.cli.context import duration, event_type_filter, opened, run_for, settings_for, since_option
from alpana_hooks.errors import ExitCode, UsageError
from alpana_hooks.timeutil import utcnow

STATUSES = ("pending", "sending", "succeeded", "failed")
LONGEST_WAIT = 60.0  # seconds: deliver --loop waits at most this long after rounds that found the store unwritable
AttemptId = Annotated[int, typer.Argument(help="Send attempt id.", min=1, max=MAX_ID, show_default=False)]
SubscriptionOpt = Annotated[Optional[int], typer.Option("--subscription", "-s", help="Only this subscription.", min=1, max=MAX_ID, show_default=False)]
EventOpt = Annotated[Optional[str], typer.Option("--event", "-e", help="Only this event type.", show_default=False)]
SinceOpt = Annotated[Optional[str], typer.Option("--since", help="Only since a duration ago (2h) or a time.", show_default=False)]


@attempts_app.command("list")
def attempts_list(
    subscription: SubscriptionOpt = None, event: EventOpt = None,
    status: Annotated[Optional[str], typer.Option("--status", help="pending, sending, succeeded or failed.", show_default=False)] = None,
    since: SinceOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_ID, help="At most this many, newest first.")] = 50,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Redraw live until Ctrl-C (with --json: NDJSON of new or changed attempts).")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, max=86400, help="Seconds between refreshes with --watch.")] = 2.0,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """The tenant's send attempts, newest first: event, event id, time, status code, response."""
    run = run_for(db, config, tenant)
    if status is not None and status not in STATUSES:
        raise UsageError(f"invalid --status {status!r}: use one of {', '.join(STATUSES)}")
    filters = {"subscription_id": subscription, "event_type": event_type_filter(event), "status": status,
               "since": since_option(since)}
    with opened(run.settings) as store:
        if watch:
            try:
                (_stream if json else _live)(store, run.tenant, filters, limit, interval)
            except KeyboardInterrupt:
                pass
            return
        rows = store.list_attempts(run.tenant, limit=limit, **filters)
    if json:
        output.print_json([output.attempt_json(a) for a in rows])
    elif rows:
        output.show(output.attempts_table(rows))
    else:
        output.message(f"no send attempts in {run.tenant}")


def _live(store, tenant: str, filters: dict, limit: int, interval: float) -> None:
    """Redraw the table in place every interval; each poll is its own short read."""
    from rich.live import Live

    with Live(output.attempts_table([]), console=output.console(), auto_refresh=False, transient=False) as live:
        while True:
            rows = store.list_attempts(tenant, limit=limit, **filters)
            live.update(output.attempts_table(rows, title=f"Send attempts in {tenant} (Ctrl-C to stop)"), refresh=True)
            time.sleep(interval)


def _stream(store, tenant: str, filters: dict, limit: int, interval: float) -> None:
    """NDJSON: the latest attempts first, then every new attempt and every change of an unfinished one."""
    seen: dict[int, tuple] = {}
    rows = list(reversed(store.list_attempts(tenant, limit=limit, **filters)))
    while True:
        for row in rows:
            state = (row["status"], row["status_code"], row["next_attempt_at"])
            if seen.get(row["id"]) != state:
                seen[row["id"]] = state
                output.print_json_line(output.attempt_json(row))
        time.sleep(interval)
        unfinished = [i for i, state in seen.items() if state[0] in ("pending", "sending") or state[2]]
        newest = max(seen, default=0)
        rows = store.attempts_by_ids(tenant, unfinished)
        rows += list(reversed(store.list_attempts(tenant, after_id=newest, limit=None, **filters)))


@attempts_app.command("show")
def attempts_show(attempt_id: AttemptId, tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None,
                  json: JsonOpt = False):
    """Everything recorded for one attempt: payload (Data), request headers (masked), response."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as store:
        attempt = store.get_attempt(run.tenant, attempt_id)
    if json:
        output.print_json(output.attempt_json(attempt, full=True))
    else:
        output.attempt_detail(attempt)


@attempts_app.command("prune")
def attempts_prune(
    older_than: Annotated[str, typer.Option("--older-than", help="Delete finished attempts older than this (30d).", show_default=False)],
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Delete finished attempts older than a duration; pending, sending and scheduled ones stay."""
    run = run_for(db, config, tenant)
    age = duration(older_than)
    with opened(run.settings) as store:
        removed = store.prune_attempts(run.tenant, before=utcnow() - age)
    if json:
        output.print_json({"deleted": removed})
    else:
        output.message(f"deleted {removed} attempt(s) older than {older_than}")


@app.command()
def resend(
    attempt_id: Annotated[Optional[int], typer.Argument(help="Send attempt to replay.", min=1, max=MAX_ID, show_default=False)] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Resend every delivery whose latest attempt failed.")] = False,
    since: SinceOpt = None, subscription: SubscriptionOpt = None, event: EventOpt = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, max=MAX_ID, help="With --failed: at most this many.", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --failed: list what would be sent, send nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --failed: do not ask (required without a terminal).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Resend to a disabled subscription too.")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Send an attempt's payload again as a new attempt (same webhook-id, fresh signature), or with
    --failed every delivery that failed and was not followed by a success."""
    run = run_for(db, config, tenant)
    if failed == (attempt_id is not None):
        raise UsageError("give an ATTEMPT_ID or --failed (not both)")
    if not failed and any(v is not None for v in (since, subscription, event, limit)) or (dry_run and not failed):
        raise UsageError("--since, --subscription, --event, --limit and --dry-run go with --failed")
    if failed:
        _resend_failed(run, since, subscription, event, limit, dry_run, yes, force, json)
        return
    with opened(run.settings) as store:
        original = store.get_attempt(run.tenant, attempt_id)
        sub = store.get_subscription_of_attempt(run.tenant, original)
        if sub["state"] != "active" and not force:
            raise UsageError(f"subscription {sub['id']} is disabled: enable it, or resend with --force")
        (new_id,) = _resend(store, run, [attempt_id], only_if_latest=False)
        attempt = store.get_attempt(run.tenant, new_id)
    if json:
        output.print_json(output.attempt_json(attempt))
    else:
        output.show(output.emit_table([attempt]))
    if attempt["status"] == "failed":
        raise typer.Exit(int(ExitCode.DELIVERY_FAILED))


def _resend_failed(run, since, subscription, event, limit, dry_run, yes, force, json) -> None:
    since_time = since_option(since)
    event_type = event_type_filter(event)
    with opened(run.settings) as store:
        failures = store.failed_not_recovered(run.tenant, since=since_time, subscription_id=subscription,
                                              event_type=event_type, limit=limit, include_disabled=force)
        if dry_run or not failures:
            _print_attempts(failures, json, "nothing to resend" if not failures else
                            f"would resend {len(failures)} attempt(s); run again without --dry-run")
            return
        if not yes:
            confirm(f"Resend {len(failures)} failed deliveries?", command="resend --failed", cancelled="nothing sent")
        new_ids = _resend(store, run, [a["id"] for a in failures], only_if_latest=True)
        attempts = [store.get_attempt(run.tenant, i) for i in new_ids]
    failed_count = sum(a["status"] == "failed" for a in attempts)
    summary = {"sent": len(attempts), "succeeded": len(attempts) - failed_count, "failed": failed_count}
    if json:
        output.print_json({**summary, "attempts": [output.attempt_json(a) for a in attempts]})
    else:
        output.show(output.emit_table(attempts))
        output.message(f"sent {summary['sent']}: {summary['succeeded']} succeeded, {summary['failed']} failed")
    if failed_count:
        raise typer.Exit(int(ExitCode.DELIVERY_FAILED))


def _resend(store, run, attempt_ids: list[int], *, only_if_latest: bool) -> list[int]:
    """New resend attempts, stored already claimed by this process (so a running deliver cannot take
    them first), then sent; returns their ids."""
    from alpana_hooks.dispatch import Dispatcher

    dispatcher = Dispatcher(store, run.settings)
    try:
        new_ids: list[int] = []
        try:
            for attempt_id in attempt_ids:
                made = store.add_resend(run.tenant, attempt_id, now=utcnow(), only_if_latest=only_if_latest,
                                        claim=dispatcher.claim_ticket())
                if made is not None:
                    new_ids.append(made)
        except BaseException:
            dispatcher.hand_back(new_ids)  # interrupted while creating them: deliver takes them at once
            raise
        dispatcher.send_claimed(new_ids)
    finally:
        dispatcher.close()
    return new_ids


def _print_attempts(attempts: list[dict], json: bool, note: str) -> None:
    if json:
        output.print_json([output.attempt_json(a) for a in attempts])
        return
    if attempts:
        output.show(output.attempts_table(attempts))
    output.message(note)


@app.command()
def deliver(
    loop: Annotated[bool, typer.Option("--loop", help="Keep delivering until Ctrl-C or SIGTERM; a round that finds the store locked or full is logged and retried.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, max=86400, help="Seconds between rounds with --loop.")] = 1.0,
    db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Send what is due in every tenant: pending attempts, scheduled retries, claims left by a crash.
    Safe to run from cron and from several processes at once."""
    from alpana_hooks.dispatch import Dispatcher

    settings = settings_for(db, config)
    with opened(settings) as store:
        dispatcher = Dispatcher(store, settings)
        try:
            _rounds(dispatcher, loop, interval)
        except KeyboardInterrupt:
            if not loop:
                raise  # a one-shot run that was cut short: exit 130
            dispatcher.record_held()
        finally:
            dispatcher.close()
    totals = {"sent": sum(dispatcher.recorded.values()), **dispatcher.recorded}
    if json:
        output.print_json(totals)
    else:
        output.message(f"sent {totals['sent']}: {totals['succeeded']} succeeded, {totals['failed']} failed")
    if totals["failed"] and not loop:
        raise typer.Exit(int(ExitCode.DELIVERY_FAILED))


def _rounds(dispatcher, loop: bool, interval: float) -> None:
    """One round, or one every interval until interrupted. With --loop, a round that finds the store locked or
    full is one line on stderr, and the next waits twice as long (at most LONGEST_WAIT) until one succeeds."""
    from alpana_hooks.dispatch import StoreUnwritable

    wait = interval
    while True:
        try:
            dispatcher.deliver_due()
            wait = interval
        except StoreUnwritable as exc:
            if not loop or exc.interrupted:
                raise
            wait = min(2 * wait, max(LONGEST_WAIT, interval))
            held = f"; results of attempts {', '.join(map(str, exc.held))} held until it can" if exc.held else ""
            output.error(f"round failed, the store cannot be written: {exc.reason}{held}; next round in {wait:g} s")
        if not loop:
            return
        time.sleep(wait)
