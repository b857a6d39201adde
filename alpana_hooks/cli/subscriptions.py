"""Subscription commands: add, list, show, edit, delete, enable, disable, headers, secret."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from alpana_hooks.cli import inputs
from alpana_hooks.cli.app import (
    MAX_ID,
    ConfigOpt,
    DbOpt,
    JsonOpt,
    RevealOpt,
    TenantOpt,
    WideOpt,
    app,
    confirm,
    headers_app,
    lazy,
    secret_app,
)
from alpana_hooks.cli.context import duration, opened, run_for, settings_for, warn_if_unknown_tenant
from alpana_hooks.errors import UsageError

if TYPE_CHECKING:
    from alpana_hooks.model import Subscription

output = lazy("alpana_hooks.output")
header_rules = lazy("alpana_hooks.headers")
timeutil = lazy("alpana_hooks.timeutil")


FilterOpt = Annotated[Optional[str], typer.Option("--filter", metavar="EXPR", help="Send only events for which this JMESPath expression on {type, tenant, data} is true, e.g. \"data.name == 'Sales'\".", show_default=False)]

RateLimitOpt = Annotated[Optional[str], typer.Option("--rate-limit", metavar="N/UNIT", help="Send at most N requests per second, minute or hour (10/s, 600/m, 5000/h), across every deliver process; the rest wait. none: no limit.", show_default=False)]

SubId = Annotated[int, typer.Argument(help="Subscription id.", min=1, max=MAX_ID, show_default=False)]


@app.command()
def add(
    event: Annotated[str, typer.Option("--event", "-e", help="Event type that triggers the webhook.", show_default=False)],
    url: Annotated[str, typer.Option("--url", "-u", help="Endpoint URL (http or https).", show_default=False)],
    header: Annotated[Optional[list[str]], typer.Option("--header", "-H", help="Extra header 'Key: Value' (repeatable). Other users see it in `ps`: put secret values in --header-file.", show_default=False)] = None,
    header_file: Annotated[Optional[str], typer.Option("--header-file", metavar="FILE", help="Extra headers from FILE, one 'Key: Value' per line (- reads stdin).", show_default=False)] = None,
    description: Annotated[str, typer.Option("--description", "-d", help="Free text.")] = "",
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    filter: FilterOpt = None,
    rate_limit: RateLimitOpt = None,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Add a webhook subscription; prints its id and its signing secret (`secret show` shows it again)."""
    run = run_for(db, config, tenant)
    lines = list(header or []) + (inputs.header_lines(header_file) if header_file is not None else [])
    headers = [header_rules.header_line(line) for line in lines]
    with opened(run.settings) as hooks:
        added = hooks.add_subscription(run.tenant, event, url, headers=headers, description=description,
                                       disabled=disabled, filter=filter, rate_limit=rate_limit)
    output.render(added, json=json, as_json=lambda a: {**output.subscription_json(a.subscription), "secret": a.secret},
                  as_table=lambda a: output.subscription_detail(a.subscription, secret=a.secret),
                  note=f"Added subscription {added.subscription.id}. `alpana-hooks secret show {added.subscription.id}"
                       f" -t {run.tenant}` shows the signing secret again.")


@app.command("list")
def list_(
    event: Annotated[Optional[str], typer.Option("--event", "-e", help="Only this event type.", show_default=False)] = None,
    state: Annotated[Optional[str], typer.Option("--state", help="Only subscriptions in this state.", show_default=False)] = None,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False, wide: WideOpt = False,
):
    """List the tenant's webhook subscriptions."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        subs = hooks.subscriptions(run.tenant, event_type=event, state=state)
        if not subs:
            warn_if_unknown_tenant(hooks, run.tenant)
    output.render(subs, json=json, as_json=lambda subs: [output.subscription_json(sub) for sub in subs],
                  as_table=output.subscriptions_table, empty=f"no subscriptions in {run.tenant}", wide=wide)


@app.command()
def tenants(db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """List the tenants this store knows: those with a subscription or a recorded event."""
    with opened(settings_for(db, config)) as hooks:
        known = hooks.tenants()
    output.render(known, json=json, as_json=list, as_table=lambda names: "\n".join(names),
                  empty="no tenants yet: add a subscription with `alpana-hooks add -t TENANT …`")


@app.command()
def show(sub_id: SubId, reveal: RevealOpt = False,
         tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Show one subscription: configuration, state, headers and its latest send attempts."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        sub, attempts = hooks.latest_attempts(run.tenant, sub_id)
    output.render(sub, json=json,
                  as_json=lambda sub: {**output.subscription_json(sub, reveal),
                                       "latest_attempts": [output.attempt_json(a) for a in attempts]},
                  as_table=lambda sub: output.subscription_with_attempts(sub, attempts, reveal),
                  note=None if attempts else "no send attempts yet")


@app.command()
def edit(
    sub_id: SubId,
    url: Annotated[Optional[str], typer.Option("--url", "-u", help="New endpoint URL.", show_default=False)] = None,
    event: Annotated[Optional[str], typer.Option("--event", "-e", help="New event type.", show_default=False)] = None,
    description: Annotated[Optional[str], typer.Option("--description", "-d", help="New description.", show_default=False)] = None,
    filter: FilterOpt = None,
    no_filter: Annotated[bool, typer.Option("--no-filter", help="Remove the filter: every event of the type goes.")] = False,
    rate_limit: RateLimitOpt = None,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Change a subscription's URL, event type, description, payload filter or rate limit."""
    run = run_for(db, config, tenant)
    if no_filter and filter is not None:
        raise UsageError("give either --filter or --no-filter, not both")
    if filter == "":
        raise UsageError("invalid filter '': the expression is empty (to remove the filter, give --no-filter)")
    with opened(run.settings) as hooks:
        sub = hooks.edit_subscription(run.tenant, sub_id, url=url, event_type=event, description=description,
                                      filter="" if no_filter else filter, rate_limit=rate_limit)
    _print_subscription(sub, json, f"Updated subscription {sub_id}.")


@app.command()
def delete(
    sub_id: SubId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (required without a terminal).")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Delete a subscription (its send attempts stay in the history)."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        sub = hooks.subscription(run.tenant, sub_id)
        if not yes:
            confirm(f"Delete subscription {sub_id} ({sub.event_type} -> {sub.url})?", command="delete",
                    cancelled="nothing deleted")
        hooks.delete_subscription(run.tenant, sub_id)
    if json:
        output.print_json({"id": sub_id, "deleted": True})
    else:
        output.message(f"Deleted subscription {sub_id}.")


@app.command()
def enable(sub_id: SubId, tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Enable a subscription: its event triggers the webhook again."""
    _set_state(sub_id, True, tenant, db, config, json)


@app.command()
def disable(sub_id: SubId, tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Disable a subscription: its event no longer triggers the webhook."""
    _set_state(sub_id, False, tenant, db, config, json)


def _set_state(sub_id: int, active: bool, tenant, db, config, json: bool) -> None:
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        sub = hooks.enable(run.tenant, sub_id) if active else hooks.disable(run.tenant, sub_id)
    _print_subscription(sub, json, f"Subscription {sub_id} is {output.state_label(sub)}.")


def _print_subscription(sub: Subscription, json: bool, note: str) -> None:
    output.render(sub, json=json, as_json=output.subscription_json, as_table=output.subscription_detail, note=note)


app.add_typer(headers_app, name="headers")


@headers_app.command("add")
def headers_add(
    sub_id: SubId,
    key: Annotated[str, typer.Argument(metavar="NAME", help="Header name, or 'Name: Value' as add -H takes it.", show_default=False)],
    value: Annotated[Optional[str], typer.Argument(help="Header value. Other users see it in `ps`: give a secret one with --value-file.", show_default=False)] = None,
    value_file: Annotated[Optional[str], typer.Option("--value-file", metavar="FILE", help="Read the value from FILE (- reads stdin) instead of VALUE.", show_default=False)] = None,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Add a header to every delivery of a subscription (replaces one of the same name): NAME VALUE,
    'Name: Value', or NAME --value-file FILE."""
    run = run_for(db, config, tenant)
    if ":" in key and value is None and value_file is None:
        key, value = header_rules.header_line(key)
    if (value is None) == (value_file is None):
        raise UsageError("give the header value either as VALUE or with --value-file FILE (- reads stdin)")
    name = header_rules.header_name(key)
    text = inputs.read_value(value_file, "--value-file") if value_file is not None else value
    assert text is not None  # one of the two was given (checked above)
    with opened(run.settings) as hooks:
        sub = hooks.set_header(run.tenant, sub_id, name, text)
    _print_headers(sub, json, False)


@headers_app.command("remove")
def headers_remove(
    sub_id: SubId,
    key: Annotated[str, typer.Argument(help="Header name.", show_default=False)],
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Remove a header from a subscription."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        sub = hooks.remove_header(run.tenant, sub_id, key)
    _print_headers(sub, json, False)


@headers_app.command("list")
def headers_list(sub_id: SubId, reveal: RevealOpt = False,
                 tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """List a subscription's headers (sensitive values masked unless --reveal)."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        sub = hooks.subscription(run.tenant, sub_id)
    _print_headers(sub, json, reveal)


def _print_headers(sub: Subscription, json: bool, reveal: bool) -> None:
    output.render(list(sub.headers), json=json, as_json=lambda _: output.headers_json(sub, reveal),
                  as_table=lambda _: output.headers_table(sub, reveal),
                  empty=f"subscription {sub.id} has no extra headers")


app.add_typer(secret_app, name="secret")


@secret_app.command("show")
def secret_show(sub_id: SubId, tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None,
                json: JsonOpt = False):
    """Print a subscription's signing secrets: the current one, and any old one still in its grace period."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as hooks:
        live = hooks.secrets(run.tenant, sub_id)
    output.render(live, json=json, as_json=lambda live: [dataclasses.asdict(s) for s in live],
                  as_table=output.secrets_text)


@secret_app.command("rotate")
def secret_rotate(
    sub_id: SubId,
    grace: Annotated[str, typer.Option("--grace", help="How long the old secret keeps signing too.")] = "24h",
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Give a subscription a new signing secret; the old one also signs during the grace period."""
    run = run_for(db, config, tenant)
    grace_period = duration(grace)
    with opened(run.settings) as hooks:
        rotated = hooks.rotate_secret(run.tenant, sub_id, grace=grace_period)
    output.render(rotated, json=json,
                  as_json=lambda r: {"id": sub_id, "secret": r.secret, "old_secret_expires_at": timeutil.to_iso(r.old_expires_at)},
                  as_table=lambda r: r.secret,
                  note=f"New signing secret for subscription {sub_id}; the old one keeps signing for {grace}.")
