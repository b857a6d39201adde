"""Send-attempt commands: attempts list|show|prune, resend, deliver."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from alpana_hooks.cli.app import (
    MAX_ID,
    ConfigOpt,
    DbOpt,
    JsonOpt,
    TenantOpt,
    WideOpt,
    app,
    attempts_app,
    confirm,
    lazy,
    report_sent,
)
from alpana_hooks.cli.context import (
    Run,
    duration,
    opened,
    run_for,
    settings_for,
    since_option,
    warn_if_unknown_tenant,
)
from alpana_hooks.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from alpana_hooks.api import Hooks

output = lazy("alpana_hooks.output")

AttemptId = Annotated[int, typer.Argument(help="Send attempt id.", min=1, max=MAX_ID, show_default=False)]
SubscriptionOpt = Annotated[Optional[int], typer.Option("--subscription", "-s", help="Only this subscription.", min=1, max=MAX_ID, show_default=False)]
EventOpt = Annotated[Optional[str], typer.Option("--event", "-e", help="Only this event type.", show_default=False)]
EventIdOpt = Annotated[Optional[str], typer.Option("--event-id", help="Only this event (its webhook-id, evt_…).", show_default=False)]
SinceOpt = Annotated[Optional[str], typer.Option("--since", help="Only since a duration ago (2h) or a time.", show_default=False)]


app.add_typer(attempts_app, name="attempts")


@attempts_app.command("list")
def attempts_list(
    subscription: SubscriptionOpt = None, event: EventOpt = None, event_id: EventIdOpt = None,
    status: Annotated[Optional[str], typer.Option("--status", help="Only attempts in this status.", show_default=False)] = None,
    unresolved: Annotated[bool, typer.Option("--unresolved", help="Only failures not followed by a success: what resend --failed would send.")] = False,
    since: SinceOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_ID, help="At most this many, newest first.")] = 50,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Redraw live until Ctrl-C or SIGTERM; into a pipe, one line per new or changed attempt (with --json: NDJSON).")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, max=86400, help="Seconds between refreshes with --watch.")] = 2.0,
    alerts: Annotated[bool, typer.Option("--alerts", help="The operational alerts' attempts ([alerts] url) instead of a tenant's.")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False, wide: WideOpt = False,
):
    """The tenant's send attempts, newest first: event, event id, age, status, HTTP status code, next retry,
    response."""
    if alerts:
        if any(v is not None for v in (subscription, event, event_id, status, since, tenant)) or watch or unresolved:
            raise UsageError("--alerts takes only --limit and --json: the alerts belong to no tenant")
        _alert_attempts(limit, db, config, json)
        return
    run = run_for(db, config, tenant)
    if unresolved and (watch or event_id or status not in (None, "failed")):
        raise UsageError("--unresolved lists failed attempts: it does not go with --watch, --event-id or another --status")
    filters = {"subscription_id": subscription, "event_type": event, "status": status, "since": since_option(since),
               "event_id": event_id}
    with opened(run.settings) as hooks:
        if unresolved:
            rows = _unresolved(hooks, run.tenant, filters, limit)
        else:
            rows = hooks.attempts(run.tenant, limit=limit, **filters)  # checks the filters before watching
        if not rows:
            warn_if_unknown_tenant(hooks, run.tenant)
        if watch:
            _watch(hooks, run.tenant, filters, limit, interval, json, wide)
            return
    output.render(rows, json=json, as_json=lambda rows: [output.attempt_json(a) for a in rows],
                  as_table=output.attempts_table, empty=f"no send attempts in {run.tenant}", wide=wide)


def _alert_attempts(limit: int, db, config, json: bool) -> None:
    with opened(settings_for(db, config)) as hooks:
        rows = hooks.alert_attempts(limit=limit)
    output.render(rows, json=json, as_json=lambda rows: [output.attempt_json(a) for a in rows],
                  as_table=output.attempts_table, empty="no operational alerts sent yet")


def _unresolved(hooks: Hooks, tenant: str, filters: dict, limit: int) -> list:
    """The latest failed attempt of each delivery that was not followed by a success, newest first."""
    failures = hooks.failed_deliveries(tenant, since=filters["since"], subscription_id=filters["subscription_id"],
                                       event_type=filters["event_type"])
    return failures[::-1][:limit]


def _watch(hooks: Hooks, tenant: str, filters: dict, limit: int, interval: float, json: bool, wide: bool) -> None:
    """Until Ctrl-C or SIGTERM (both a normal end, exit 0): a live table on a terminal, else lines."""
    try:
        if json or not output.is_terminal():
            _stream(hooks, tenant, filters, limit, interval, json)
        else:
            _live(hooks, tenant, filters, limit, interval, wide)
    except KeyboardInterrupt:
        pass


def _live(hooks: Hooks, tenant: str, filters: dict, limit: int, interval: float, wide: bool) -> None:
    """Redraw the table in place on every change (PostgreSQL: notified) or interval; each read is short."""
    from rich.live import Live

    with Live(output.live_table(output.attempts_table([]), wide), console=output.console(), auto_refresh=False,
              transient=False) as live:
        for _ in hooks.watch_attempts(tenant, interval=interval, limit=limit, **filters):
            rows = hooks.attempts(tenant, limit=limit, **filters)
            grid = output.attempts_table(rows, title=f"Send attempts in {tenant} (Ctrl-C to stop)")
            live.update(output.live_table(grid, wide), refresh=True)


def _stream(hooks: Hooks, tenant: str, filters: dict, limit: int, interval: float, json: bool) -> None:
    """The latest attempts first, then every new attempt and every change of an unfinished one: one NDJSON or
    tab-separated line each, flushed at once."""
    for rows in hooks.watch_attempts(tenant, interval=interval, limit=limit, **filters):
        for row in rows:
            if json:
                output.print_json_line(output.attempt_json(row))
            else:
                output.show(output.attempts_table([row]))


@attempts_app.command("show")
def attempts_show(attempt_id: AttemptId, tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None,
                  json: JsonOpt = False):
    """Everything recorded for one attempt: payload (Data), request headers (masked), response."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        attempt = hooks.attempt(run.tenant, attempt_id)
    output.render(attempt, json=json, as_json=lambda a: output.attempt_json(a, full=True),
                  as_table=output.attempt_detail)


@attempts_app.command("prune")
def attempts_prune(
    older_than: Annotated[str, typer.Option("--older-than", help="Delete finished attempts older than this (30d).", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted, delete nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (required without a terminal).")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Delete finished attempts older than a duration, and the events left without attempts (their ids can
    then be emitted again with --event-id); pending, sending and scheduled ones stay. Asks first."""
    run = run_for(db, config, tenant)
    age = duration(older_than)
    with opened(run.settings) as hooks:
        if yes and not dry_run:  # nothing to ask: delete at once (a count first would read it all twice)
            attempts, events = hooks.prune_attempts(run.tenant, older_than=age)
        else:
            attempts, events = hooks.prune_attempts(run.tenant, older_than=age, dry_run=True)
            if not dry_run and attempts + events:
                confirm(f"Delete {attempts} attempt(s) and {events} event(s) of {run.tenant} older than {older_than}?",
                        command="attempts prune", cancelled="nothing deleted")
                attempts, events = hooks.prune_attempts(run.tenant, older_than=age)
    if json:
        output.print_json({"deleted": attempts, "events_deleted": events, "dry_run": dry_run})
    else:
        verb = "would delete" if dry_run else "deleted"
        output.message(f"{verb} {attempts} attempt(s) and {events} event(s) older than {older_than}"
                       + ("; run again without --dry-run (and with --yes from a script)" if dry_run else ""))


@app.command()
def resend(
    attempt_id: Annotated[Optional[int], typer.Argument(help="Send attempt to replay.", min=1, max=MAX_ID, show_default=False)] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Resend every delivery whose latest attempt failed.")] = False,
    event_id: Annotated[Optional[str], typer.Option("--event-id", help="Resend this event to each subscription it went to (or --subscription).", show_default=False)] = None,
    since: SinceOpt = None, subscription: SubscriptionOpt = None, event: EventOpt = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, max=MAX_ID, help="With --failed: at most this many.", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --failed: list what would be sent, send nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --failed: do not ask (required without a terminal).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Resend to a disabled subscription too.")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Send an attempt's payload again as a new attempt (same webhook-id, fresh signature); with --event-id an
    event to the subscriptions it went to; with --failed every delivery that failed and was not followed by a
    success."""
    run = run_for(db, config, tenant)
    if (attempt_id is not None) + failed + (event_id is not None) != 1:
        raise UsageError("give one of ATTEMPT_ID, --failed or --event-id")
    if not failed and any(v is not None for v in (since, event, limit)) or (dry_run and not failed):
        raise UsageError("--since, --event, --limit and --dry-run go with --failed")
    if subscription is not None and attempt_id is not None:
        raise UsageError("--subscription goes with --failed or --event-id")
    if failed:
        filters = {"since": since_option(since), "subscription_id": subscription, "event_type": event, "limit": limit,
                   "include_disabled": force}
        given = {"--since": since, "--subscription": subscription, "--event": event, "--limit": limit}
        again = ["alpana-hooks", "resend", "--failed", "--yes", "-t", run.tenant]
        from shlex import quote  # here, not at the top: --help imports this module

        again += [f"{flag} {quote(str(value))}" for flag, value in given.items() if value is not None]
        _resend_failed(run, filters, dry_run, yes, json, " ".join(again + ["--force"] * force))
        return
    with opened(run.settings) as hooks:
        if event_id is not None:
            attempts = hooks.resend_event(run.tenant, event_id, subscription_id=subscription, force=force)
            output.render(attempts, json=json, as_json=lambda rows: [output.attempt_json(a) for a in rows],
                          as_table=output.emit_table)
        else:
            assert attempt_id is not None
            attempts = [hooks.resend(run.tenant, attempt_id, force=force)]
            output.render(attempts[0], json=json, as_json=output.attempt_json, as_table=lambda a: output.emit_table([a]))
    if any(a.failed for a in attempts):
        raise typer.Exit(int(ExitCode.DELIVERY_FAILED))


def _resend_failed(run: Run, filters: dict, dry_run: bool, yes: bool, json: bool, again: str) -> None:
    """resend --failed: list (dry run) or resend, saying what a disabled subscription kept out; `again` is the
    command that resends without asking."""
    with opened(run.settings) as hooks:
        failures, skipped = _failures(hooks, run.tenant, filters)
        if not failures:
            warn_if_unknown_tenant(hooks, run.tenant)
        if skipped:
            output.message(f"note: {skipped} failed deliveries to disabled subscriptions are left out; --force "
                           "includes them")
        if dry_run or not failures:
            note = f"would resend {len(failures)} attempt(s); to resend them: {again}" if failures else None
            output.render(failures, json=json, as_table=output.attempts_table, empty="nothing to resend", note=note,
                          as_json=_dry_run_json)
            return
        if not yes:
            confirm(f"Resend {len(failures)} failed deliveries?", command="resend --failed", cancelled="nothing sent")
        attempts = hooks.resend_failed(run.tenant, failures)
    report_sent(attempts, json=json, json_head={"dry_run": False})


def _failures(hooks: Hooks, tenant: str, filters: dict) -> tuple[list, int]:
    """The failed deliveries resend --failed takes (at most filters' limit), and how many of those matching it
    leaves out because their subscription is disabled (none with --force): one read of the failures."""
    if filters["include_disabled"]:
        return hooks.failed_deliveries(tenant, **filters), 0
    disabled = {sub.id for sub in hooks.subscriptions(tenant, state="disabled")}
    every = hooks.failed_deliveries(tenant, **{**filters, "include_disabled": True, "limit": None})
    taken = [attempt for attempt in every if attempt.subscription_id not in disabled]
    return taken[:filters["limit"]], len(every) - len(taken)


def _dry_run_json(attempts: list) -> dict:
    """resend --failed --dry-run's JSON: the failed attempts it would resend, nothing sent (the shape of
    report_sent's, which the resend prints)."""
    return {"dry_run": True, "sent": 0, "succeeded": 0, "failed": 0,
            "attempts": [output.attempt_json(a) for a in attempts]}


SHOWN_AT_MOST = 100  # rows a one-shot deliver prints (and lists in --json) of the attempts it sent


@app.command()
def deliver(
    loop: Annotated[bool, typer.Option("--loop", help="Keep delivering until Ctrl-C or SIGTERM; a round that finds the store locked or full is logged and retried.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, max=86400, help="Seconds between rounds with --loop.")] = 1.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="With --loop: no line per delivery, only errors and the closing summary.")] = False,
    db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Send what is due in every tenant: pending attempts, scheduled retries, claims left by a crash; a row per
    attempt sent, the first 100 (with --loop: one line per delivery on stderr, as a log). Safe to run from cron
    and from several processes at once."""
    settings = settings_for(db, config)
    sent: list = []

    def log(attempts: list) -> None:
        for attempt in attempts:
            output.log(output.delivery_line(attempt))

    with opened(settings) as hooks:
        totals = hooks.deliver(loop=loop, interval=interval, on_failed_round=output.error,
                               on_delivered=sent.extend if not loop else None if quiet else log,
                               delivered_at_most=None if loop else SHOWN_AT_MOST)
    summary = f"sent {totals.sent}: {totals.succeeded} succeeded, {totals.failed} failed"
    if not loop and len(sent) < totals.sent:
        summary += f" (the first {len(sent)} shown; attempts list has them all)"
    shown = {key: value for key, value in dataclasses.asdict(totals).items() if value or key in ("sent", "succeeded", "failed")}
    if loop:  # the deliveries were logged as they happened
        output.print_json(shown) if json else output.message(summary)
    else:  # waiting and next_send_at only when attempts wait for a rate limit
        output.render(sorted(sent, key=lambda a: a.id), json=json, as_table=output.emit_table, note=summary,
                      as_json=lambda rows: {**shown, "attempts": [output.attempt_json(a) for a in rows]})
    if totals.waiting and not json:
        output.message(f"attempts left pending for a subscription's rate limit: {totals.waiting}; the next may go at"
                       f" {totals.next_send_at}: run deliver again then, or keep deliver --loop running")
    if totals.failed and not loop:
        raise typer.Exit(int(ExitCode.DELIVERY_FAILED))
