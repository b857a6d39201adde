"""Event commands: emit, ping, events types|list|show."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from alpana_hooks.cli.app import MAX_ID, ConfigOpt, DbOpt, JsonOpt, TenantOpt, WideOpt, app, events_app, lazy
from alpana_hooks.cli.context import opened, run_for, since_option, warn_if_unknown_tenant

events = lazy("alpana_hooks.events")
output = lazy("alpana_hooks.output")
firing = lazy("alpana_hooks.cli.firing")  # emit and ping without Typer: the console script runs emit through it


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
    exit_with(firing.emit(event_type, id=id, name=name, url=url, version=version, copied_from=copied_from,
                          target=target, target_id=target_id, target_name=target_name, comment_id=comment_id,
                          comment_url=comment_url, data=data, event_id=event_id, no_send=no_send, dry_run=dry_run,
                          tenant=tenant, db=db, config=config, json=json, old_url=old_url))


def exit_with(code: int) -> None:
    """End the command with this exit code (0 ends it normally)."""
    if code:
        raise typer.Exit(int(code))


@app.command()
def ping(sub_id: Annotated[int, typer.Argument(help="Subscription id.", min=1, max=MAX_ID, show_default=False)],
         tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Send a `ping` test event to one subscription (even a disabled one); exit 4 if it fails."""
    exit_with(firing.ping(sub_id, tenant=tenant, db=db, config=config, json=json))


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
