"""On-call commands: stats, replay-missing, filter test, and their views (built with output's table and escaping)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from alpana_hooks.cli import inputs
from alpana_hooks.cli.app import (
    MAX_ID,
    ConfigOpt,
    DbOpt,
    JsonOpt,
    TenantOpt,
    app,
    confirm,
    filter_app,
    lazy,
    report_sent,
)
from alpana_hooks.cli.context import duration, opened, run_for, since_option

if TYPE_CHECKING:
    from alpana_hooks.results import FilterCheck, Stats, SubscriptionStats

output = lazy("alpana_hooks.output")

SPARKS = "▁▂▃▄▅▆▇█"
SubId = Annotated[int, typer.Argument(help="Subscription id.", min=1, max=MAX_ID, show_default=False)]


@app.command()
def stats(
    subscription: Annotated[Optional[int], typer.Option("--subscription", "-s", help="Only this subscription.", min=1, max=MAX_ID, show_default=False)] = None,
    event: Annotated[Optional[str], typer.Option("--event", "-e", help="Only subscriptions of this event type.", show_default=False)] = None,
    since: Annotated[str, typer.Option("--since", help="The window: since a duration ago (24h) or a time.")] = "24h",
    bucket: Annotated[str, typer.Option("--bucket", help="The activity line's step (at most 240 in the window).")] = "1h",
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Per subscription: attempts, success rate, p50/p95 duration, last success and failure, failures in a row,
    and a line of successes and failures per hour."""
    run = run_for(db, config, tenant)
    window, step = since_option(since), duration(bucket)
    with opened(run.settings) as hooks:
        found = hooks.stats(run.tenant, subscription_id=subscription, event_type=event, since=window, bucket=step)
    output.render(list(found.subscriptions), json=json, as_json=lambda _: stats_json(found),
                  as_table=lambda _: stats_view(found), empty=f"no subscriptions in {run.tenant}")


def stats_json(found: Stats) -> dict:
    """`stats --json`: the window and, per subscription, the same numbers as the table and every bucket."""
    from alpana_hooks.timeutil import to_iso

    step = timedelta(seconds=found.bucket_seconds)
    return {"tenant": found.tenant, "since": to_iso(found.since), "until": to_iso(found.until),
            "bucket_seconds": found.bucket_seconds, "subscriptions": [
                {"id": one.subscription.id, "event": one.subscription.event_type, "url": one.subscription.url,
                 "state": str(one.subscription.state), "attempts": one.attempts, "succeeded": one.succeeded,
                 "failed": one.failed, "pending": one.pending, "success_rate": one.success_rate,
                 "p50_ms": one.p50_ms, "p95_ms": one.p95_ms, "last_success": one.last_success,
                 "last_failure": one.last_failure, "consecutive_failures": one.consecutive_failures,
                 "buckets": [{"start": to_iso(found.since + step * index), "succeeded": ok, "failed": bad}
                             for index, (ok, bad) in enumerate(one.buckets)]}
                for one in found.subscriptions]}


def stats_view(found: Stats) -> list:
    """`stats`: one row per subscription, then each one's activity line (successes over failures)."""
    from alpana_hooks.timeutil import format_duration

    grid = output.table("ID", "State", "Sent", "OK", "Fail", "Pend", "Rate", "p50 ms", "p95 ms", "Last OK",
                        "Last fail", "Streak", title=f"Deliveries since {found.since:%Y-%m-%d %H:%M}Z")
    for one in found.subscriptions:
        rate = "" if one.success_rate is None else f"{one.success_rate:.0%}"
        grid.add_row(str(one.subscription.id), str(one.subscription.state), str(one.attempts), str(one.succeeded),
                     str(one.failed), str(one.pending), rate, _cell(one.p50_ms), _cell(one.p95_ms),
                     _ago(one.last_success, found.until), _ago(one.last_failure, found.until),
                     str(one.consecutive_failures))
    step = format_duration(timedelta(seconds=found.bucket_seconds))
    lines = [f"Activity, one mark per {step}, oldest first (height: attempts; · none):"]
    for one in found.subscriptions:
        ok_line, fail_line = sparklines(one)
        lines += [f"{one.subscription.id:>4} ok   {ok_line}", f"{'':>4} fail {fail_line}"]
    return [grid, "\n".join(lines)]


def sparklines(one: SubscriptionStats) -> tuple[str, str]:
    """Two lines of marks, successes and failures per bucket, on one scale (the busiest bucket is full)."""
    top = max((max(pair) for pair in one.buckets), default=0)

    def mark(count: int) -> str:
        return "·" if not count else SPARKS[min(len(SPARKS) - 1, -(-count * len(SPARKS) // top) - 1)]

    return "".join(mark(ok) for ok, _ in one.buckets), "".join(mark(bad) for _, bad in one.buckets)


def _cell(value: int | None) -> str:
    return "" if value is None else str(value)


def _ago(stamp: str | None, now: datetime) -> str:
    """How long ago a time was, in its largest unit: 42s, 5m, 3h, 2d."""
    from alpana_hooks.output.grid import age_text
    from alpana_hooks.timeutil import from_iso

    return "never" if stamp is None else age_text(max(0, int((now - from_iso(stamp)).total_seconds())))


@app.command("replay-missing")
def replay_missing(
    sub_id: SubId,
    since: Annotated[str, typer.Option("--since", help="Events since a duration ago (2d) or a time.", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the events it would send, send nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (required without a terminal).")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Send a subscription the events of its type it never got (fired while it was disabled, or discarded), oldest
    first, each once, its filter applied."""
    run = run_for(db, config, tenant)
    window = since_option(since)
    assert window is not None
    with opened(run.settings) as hooks:
        missed = hooks.missed_events(run.tenant, sub_id, since=window)
        if dry_run or not missed:
            note = f"would send {len(missed)} event(s); run again without --dry-run" if missed else None
            output.render(missed, json=json, as_json=lambda rows: [output.event_json(e) for e in rows],
                          as_table=output.events_table, empty=f"subscription {sub_id} missed no event since {since}",
                          note=note)
            return
        if not yes:
            confirm(f"Send {len(missed)} missed event(s) to subscription {sub_id}?", command="replay-missing",
                    cancelled="nothing sent")
        attempts = _with_progress(lambda progress: hooks.replay_missing(run.tenant, sub_id, missed, progress=progress),
                                  len(missed), hide=json)
    report_sent(attempts, json=json)


def _with_progress(work, total: int, hide: bool):
    """Run work(progress) under a progress bar on stderr (none with --json or when stderr is not a terminal)."""
    from rich.progress import Progress

    console = output.console(stderr=True)
    with Progress(console=console, transient=True, disable=hide or not console.is_terminal) as bar:
        task = bar.add_task("replaying", total=total)
        return work(lambda done, _total: bar.update(task, completed=done))


@filter_app.command("test")
def filter_test(
    sub_id: SubId,
    data: Annotated[Optional[str], typer.Option("--data", help="Event data as JSON, or @FILE (@- reads stdin), taken as an event of the subscription's type.", show_default=False)] = None,
    event: Annotated[Optional[str], typer.Option("--event", help="A recorded event's id (evt_…).", show_default=False)] = None,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Say whether a subscription's filter matches an event, and why."""
    run = run_for(db, config, tenant)
    payload = inputs.read_data(data, run.settings.max_payload_bytes) if data is not None else None
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


app.add_typer(filter_app, name="filter")
