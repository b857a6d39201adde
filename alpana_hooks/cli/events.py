"""Event commands: emit, ping, events types|list|show."""

import json as jsonlib
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from alpana_hooks import output
from alpana_hooks.cli.app import MAX_ID, ConfigOpt, DbOpt, JsonOpt, TenantOpt, app, events_app, lazy
from alpana_hooks.cli.context import Run, event_type_filter, opened, run_for, since_option
from alpana_hooks.errors import ExitCode, UsageError
from alpana_hooks.timeutil import utcnow

events = lazy("alpana_hooks.events")

EVENT_ID = re.compile(r"[A-Za-z0-9_:-]{1,128}")


def _opt(help_text: str, *names: str):
    return typer.Option(*names, help=help_text, show_default=False)


@app.command()
def emit(
    event_type: Annotated[str, typer.Argument(metavar="TYPE", help="One of the 10 event types (see `events types`).", show_default=False)],
    id: Annotated[Optional[str], _opt("Id of the dashboard, datasource or widget (comment.added: the comment).", "--id")] = None,
    name: Annotated[Optional[str], _opt("Its name (comment.added: the dashboard's or widget's).", "--name")] = None,
    url: Annotated[Optional[str], _opt("Its URL (default: built from server_url).", "--url")] = None,
    version: Annotated[Optional[int], _opt("*.updated: the version now current (new or restored).", "--version")] = None,
    copied_from: Annotated[Optional[str], _opt("dashboard.added: id of the dashboard it was copied from.", "--copied-from")] = None,
    target: Annotated[Optional[str], _opt("comment.added: dashboard or widget.", "--target")] = None,
    target_id: Annotated[Optional[str], _opt("comment.added: id of the dashboard or widget.", "--target-id")] = None,
    target_name: Annotated[Optional[str], _opt("comment.added: its name.", "--target-name")] = None,
    comment_id: Annotated[Optional[str], _opt("comment.added: id of the comment.", "--comment-id")] = None,
    comment_url: Annotated[Optional[str], _opt("comment.added: URL of the comment.", "--comment-url")] = None,
    data: Annotated[Optional[str], _opt("The whole data object as JSON, or @FILE.", "--data")] = None,
    event_id: Annotated[Optional[str], _opt("Idempotency key: a repeat of the same id does nothing.", "--event-id")] = None,
    no_send: Annotated[bool, typer.Option("--no-send", help="Record the event and its pending attempts; `deliver` sends them.")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Fire an event to every active subscription of the tenant for its type; one row per attempt."""
    run = run_for(db, config, tenant)
    try:
        event_type = events.get_event_type(event_type).name
        if data is not None:
            flags = [id, name, url, version, copied_from, target, target_id, target_name, comment_id, comment_url]
            if any(flag is not None for flag in flags):
                raise UsageError("give either --data or the field flags, not both")
            payload = _read_data(data)
        else:
            payload = events.build_data(
                event_type, id=id, name=name, url=url, version=version, copied_from=copied_from, target=target,
                target_id=target_id, target_name=target_name, comment_id=comment_id, comment_url=comment_url,
                server_url=run.settings.server_url, tenant=run.tenant,
            )
    except (events.UnknownEventType, events.PayloadError) as exc:
        raise UsageError(str(exc)) from None
    problems = events.validate_data(event_type, payload)
    if problems:
        raise UsageError(f"invalid {event_type} data: " + "; ".join(problems))
    if event_id is not None and not EVENT_ID.fullmatch(event_id):
        raise UsageError(f"invalid --event-id {event_id!r}: use 1-128 letters, digits, '_', ':' or '-' (no '.')")
    _fire(run, event_type, payload, event_id, no_send=no_send, json=json)


def _read_data(value: str) -> dict:
    """--data JSON or @file."""
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:  # ValueError: UnicodeDecodeError, or a NUL in the path
            raise UsageError(f"cannot read --data file {value[1:]!r}: {exc}") from None
    try:
        return jsonlib.loads(text)
    except ValueError as exc:
        raise UsageError(f"invalid --data JSON: {exc}") from None
    except RecursionError:
        raise UsageError("invalid --data JSON: nested too deeply") from None


def _fire(run: Run, event_type: str, payload: dict, event_id: str | None, *, no_send: bool, json: bool,
          only_subscription: int | None = None) -> None:
    """Record the event (outbox), send its attempts unless --no-send, print them, exit 4 on a failure."""
    from alpana_hooks.dispatch import Dispatcher, event_body, new_event_id

    now = utcnow()
    event_id = event_id or new_event_id(now)
    body = event_body(event_type=event_type, event_id=event_id, tenant=run.tenant, data=payload, now=now)
    with opened(run.settings) as store:
        dispatcher = None if no_send else Dispatcher(store, run.settings)
        try:
            recorded = store.record_event(
                tenant=run.tenant, event_id=event_id, event_type=event_type, data=payload, body=body, now=now,
                resource=_resource(event_type, payload), trigger="ping" if only_subscription else "emit",
                only_subscription=only_subscription, claim=dispatcher.claim_ticket() if dispatcher else None,
            )
            if dispatcher and recorded["attempt_ids"]:
                dispatcher.send_claimed(recorded["attempt_ids"])
        finally:
            if dispatcher:
                dispatcher.close()
        attempts = [store.get_attempt(run.tenant, a) for a in recorded["attempt_ids"]]
    _report(run, event_type, event_id, recorded, attempts, json)
    if any(a["status"] == "failed" for a in attempts):
        raise typer.Exit(int(ExitCode.DELIVERY_FAILED))


def _resource(event_type: str, payload: dict) -> tuple | None:
    """(kind, id, name, version, action) for the rename rule of dashboards and widgets."""
    kind_action = events.resource_of(event_type)
    if kind_action is None:
        return None
    kind, action = kind_action
    return kind, payload[f"{kind}_id"], payload.get("name"), payload.get("version"), action


def _report(run: Run, event_type: str, event_id: str, recorded: dict, attempts: list[dict], json: bool) -> None:
    if recorded["duplicate"]:
        note = f"event {event_id} was already recorded; nothing sent again"
    elif not recorded["fired"]:
        note = "not fired: only the name changed"
    elif not attempts:
        note = f"no active subscription in {run.tenant} for {event_type}"
    else:
        note = None
    if json:
        output.print_json({"event_id": event_id, "type": event_type, "fired": recorded["fired"],
                           "duplicate": recorded["duplicate"], "note": note,
                           "attempts": [output.attempt_json(a) for a in attempts]})
        return
    if attempts:
        output.show(output.emit_table(attempts))
    output.message(note or f"event {event_id}: {len(attempts)} attempt(s)")


@app.command()
def ping(sub_id: Annotated[int, typer.Argument(help="Subscription id.", min=1, max=MAX_ID, show_default=False)],
         tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Send a `ping` test event to one subscription (even a disabled one); exit 4 if it fails."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as store:
        store.get_subscription(run.tenant, sub_id)
    payload = {"subscription_id": sub_id, "message": "ping from alpana-hooks"}
    _fire(run, events.PING, payload, None, no_send=False, json=json, only_subscription=sub_id)


@events_app.command("types")
def events_types(json: JsonOpt = False):
    """The event catalog: each type, when it fires and its payload fields (--json: a JSON Schema per type)."""
    catalog = [events.CATALOG[name] for name in events.EVENT_TYPES]
    if json:
        output.print_json([{"type": et.name, "group": et.group, "title": et.title, "fires_when": et.fires_when,
                            "schema": et.json_schema()} for et in catalog])
        return
    output.event_types_table(catalog)


@events_app.command("list")
def events_list(
    type_: Annotated[Optional[str], typer.Option("--type", help="Only this event type.", show_default=False)] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="Only since a duration ago (2h) or a time.", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_ID, help="At most this many.")] = 50,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """The tenant's recorded events, newest first."""
    run = run_for(db, config, tenant)
    event_type = event_type_filter(type_)
    since_time = since_option(since)
    with opened(run.settings) as store:
        rows = store.list_events(run.tenant, event_type=event_type, since=since_time, limit=limit)
    if json:
        output.print_json([output.event_json(e) for e in rows])
    elif rows:
        output.show(output.events_table(rows))
    else:
        output.message(f"no events in {run.tenant}")


@events_app.command("show")
def events_show(event_id: Annotated[str, typer.Argument(help="Event id (evt_…).", show_default=False)],
                tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """One event: its payload and every send attempt it caused (the seed's View Webhook Event)."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as store:
        event = store.get_event(run.tenant, event_id)
        attempts = store.list_attempts(run.tenant, event_pk=event["id"], limit=None)
    if json:
        output.print_json({**output.event_json(event), "payload": bytes(event["body"]).decode("utf-8"),
                           "attempts": [output.attempt_json(a) for a in attempts]})
        return
    output.event_detail(event)
    if attempts:
        output.show(output.attempts_table(attempts, title="Send attempts"))
    else:
        output.message("this event caused no send attempt")
