"""Event commands: emit, ping, events types|list|show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from alpana_hooks.cli import inputs
from alpana_hooks.cli.app import MAX_ID, ConfigOpt, DbOpt, JsonOpt, TenantOpt, WideOpt, app, events_app, lazy
from alpana_hooks.cli.context import opened, run_for, since_option, warn_if_unknown_tenant
from alpana_hooks.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from alpana_hooks.results import EmitResult

events = lazy("alpana_hooks.events")
output = lazy("alpana_hooks.output")
operator = lazy("alpana_hooks.cli.operator")  # emit --dry-run renders as the operator commands do

PAYLOAD_SETTING = "[delivery] max_payload_bytes"


def _opt(help_text: str, *names: str):
    return typer.Option(*names, help=help_text, show_default=False)


@app.command()
def emit(
    event_type: Annotated[str, typer.Argument(metavar="TYPE", help="One of the 10 event types (see `events types`).", show_default=False)],
    id: Annotated[Optional[str], _opt("Id of the dashboard, datasource or widget (comment.added: the comment).", "--id")] = None,
    name: Annotated[Optional[str], _opt("Its name (comment.added: the dashboard's or widget's).", "--name")] = None,
    url: Annotated[Optional[str], _opt("Its URL in Alpana Server (default: built from server_url); not the endpoint's --url.", "--item-url")] = None,
    old_url: Annotated[Optional[str], typer.Option("--url", hidden=True, help="The old name of --item-url.")] = None,
    version: Annotated[Optional[int], _opt("*.updated: the version now current (new or restored).", "--version")] = None,
    copied_from: Annotated[Optional[str], _opt("dashboard.added: id of the dashboard it was copied from.", "--copied-from")] = None,
    target: Annotated[Optional[str], _opt("comment.added: dashboard or widget.", "--target")] = None,
    target_id: Annotated[Optional[str], _opt("comment.added: id of the dashboard or widget.", "--target-id")] = None,
    target_name: Annotated[Optional[str], _opt("comment.added: its name.", "--target-name")] = None,
    comment_id: Annotated[Optional[str], _opt("comment.added: id of the comment.", "--comment-id")] = None,
    comment_url: Annotated[Optional[str], _opt("comment.added: URL of the comment.", "--comment-url")] = None,
    data: Annotated[Optional[str], _opt("The whole data object as JSON, or @FILE (@- reads stdin); at most [delivery] max_payload_bytes.", "--data")] = None,
    event_id: Annotated[Optional[str], _opt("Idempotency key: a repeat of the same event does nothing; other data with the same id is an error.", "--event-id")] = None,
    no_send: Annotated[bool, typer.Option("--no-send", help="Record the event and its pending attempts; `deliver` sends them.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say which subscriptions would receive it (states and filters applied); record and send nothing.")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Fire an event to every active subscription of the tenant for its type; one row per attempt."""
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
            payload = read_data(data, run.settings.max_payload_bytes)
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
            planned = hooks.emit_dry_run(run.tenant, event_type, payload, event_id=event_id)
            operator.show_dry_run(planned, run.tenant, json)
            return
        result = hooks.emit(run.tenant, event_type, payload, event_id=event_id, send=not no_send)
    _report(run.tenant, result, json)


def read_data(value: str, cap: int) -> dict:
    """--data JSON or @file (- for stdin), read no further than the payload limit."""
    text = value
    if value.startswith("@"):
        text = inputs.read_text(value[1:], cap, "--data file", setting=PAYLOAD_SETTING)
    elif len(value.encode("utf-8", errors="surrogatepass")) > cap:
        raise UsageError(f"--data is larger than the limit of {cap} bytes ({PAYLOAD_SETTING})")
    import json  # here, not at the top: --help imports this module

    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"invalid --data JSON: {exc}") from None
    except RecursionError:
        raise UsageError("invalid --data JSON: nested too deeply") from None


def _report(tenant: str, result: EmitResult, json: bool) -> None:
    """One row per attempt (or JSON), a note on stderr; exit 4 when a delivery failed."""
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
        note = f"{note}; {skipped}" if note else f"event {result.event_id}: {len(result.attempts)} attempt(s); {skipped}"
    if json:
        output.print_json({"event_id": result.event_id, "event": result.event_type, "fired": result.fired,
                           "duplicate": result.duplicate, "skipped_by_filter": result.skipped_by_filter,
                           "note": note,
                           "attempts": [output.attempt_json(a) for a in result.attempts]})
    else:
        if result.attempts:
            output.show(output.emit_table(result.attempts))
        output.message(note or f"event {result.event_id}: {len(result.attempts)} attempt(s)")
    if result.any_failed:
        raise typer.Exit(int(ExitCode.DELIVERY_FAILED))


@app.command()
def ping(sub_id: Annotated[int, typer.Argument(help="Subscription id.", min=1, max=MAX_ID, show_default=False)],
         tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Send a `ping` test event to one subscription (even a disabled one); exit 4 if it fails."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        result = hooks.ping(run.tenant, sub_id)
    _report(run.tenant, result, json)


app.add_typer(events_app, name="events")


@events_app.command("types")
def events_types(json: JsonOpt = False):
    """The event catalog: each type, when it fires and its payload fields (--json: a JSON Schema per type)."""
    catalog = [events.CATALOG[name] for name in events.EVENT_TYPES]
    output.render(catalog, json=json, as_json=lambda catalog: [
        {"event": et.name, "group": et.group, "title": et.title, "fires_when": et.fires_when,
         "schema": et.json_schema()} for et in catalog], as_table=output.event_types_table)


@events_app.command("list")
def events_list(
    event: Annotated[Optional[str], typer.Option("--event", "-e", help="Only this event type.", show_default=False)] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="Only since a duration ago (2h) or a time.", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_ID, help="At most this many.")] = 50,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False, wide: WideOpt = False,
):
    """The tenant's recorded events, newest first."""
    run = run_for(db, config, tenant)
    since_time = since_option(since)
    with opened(run.settings) as hooks:
        rows = hooks.events(run.tenant, event_type=event, since=since_time, limit=limit)
        if not rows:
            warn_if_unknown_tenant(hooks, run.tenant)
    output.render(rows, json=json, as_json=lambda rows: [output.event_json(e) for e in rows],
                  as_table=output.events_table, empty=f"no events in {run.tenant}", wide=wide)


@events_app.command("show")
def events_show(event_id: Annotated[str, typer.Argument(help="Event id (evt_…).", show_default=False)],
                tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """One event: its payload and every send attempt it caused."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        event, attempts = hooks.event(run.tenant, event_id)
    output.render(event, json=json, as_json=lambda e: output.event_with_attempts_json(e, attempts),
                  as_table=lambda e: output.event_detail(e, attempts))
