"""Subscription commands: add, list, show, edit, delete, enable, disable, headers, secret."""

from typing import Annotated, Optional

import typer

from alpana_hooks import output, validate
from alpana_hooks.cli import inputs
from alpana_hooks.cli.app import (
    MAX_ID, ConfigOpt, DbOpt, JsonOpt, RevealOpt, TenantOpt, app, confirm, headers_app, secret_app,
)
from alpana_hooks.cli.context import duration, opened, run_for
from alpana_hooks.errors import UsageError
from alpana_hooks.timeutil import utcnow

SubId = Annotated[int, typer.Argument(help="Subscription id.", min=1, max=MAX_ID, show_default=False)]


def _event_type(name: str) -> str:
    from alpana_hooks.events import UnknownEventType, get_event_type

    try:
        return get_event_type(name).name
    except UnknownEventType as exc:
        raise UsageError(str(exc)) from None


def _state(value: str | None) -> str | None:
    if value not in (None, "active", "disabled"):
        raise UsageError(f"invalid --state {value!r}: use active or disabled")
    return value


@app.command()
def add(
    event: Annotated[str, typer.Option("--event", "-e", help="Event type that triggers the webhook.", show_default=False)],
    url: Annotated[str, typer.Option("--url", "-u", help="Endpoint URL (http or https).", show_default=False)],
    header: Annotated[Optional[list[str]], typer.Option("--header", "-H", help="Extra header 'Key: Value' (repeatable). Other users see it in `ps`: put secret values in --header-file.", show_default=False)] = None,
    header_file: Annotated[Optional[str], typer.Option("--header-file", metavar="FILE", help="Extra headers from FILE, one 'Key: Value' per line (- reads stdin).", show_default=False)] = None,
    description: Annotated[str, typer.Option("--description", "-d", help="Free text.")] = "",
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Add a webhook subscription; prints its id and its signing secret (shown once)."""
    from alpana_hooks.signing import generate_secret

    run = run_for(db, config, tenant)
    event_type = _event_type(event)
    checked_url = validate.url(url, require_https=run.settings.require_https)
    lines = list(header or []) + (inputs.header_lines(header_file) if header_file is not None else [])
    headers = validate.unique_headers([validate.header_line(line) for line in lines])
    secret = generate_secret()
    with opened(run.settings) as store:
        sub_id = store.add_subscription(
            tenant=run.tenant, event_type=event_type, url=checked_url, description=description,
            state="disabled" if disabled else "active", headers=headers, secret=secret, now=utcnow(),
        )
        sub = store.get_subscription(run.tenant, sub_id)
    if json:
        output.print_json({**output.subscription_json(sub), "secret": secret})
        return
    output.subscription_detail(sub, secret=secret)
    output.message(f"Added subscription {sub_id}. Keep the signing secret: it is shown in full only now.")


@app.command("list")
def list_(
    event: Annotated[Optional[str], typer.Option("--event", "-e", help="Only this event type.", show_default=False)] = None,
    state: Annotated[Optional[str], typer.Option("--state", help="active or disabled.", show_default=False)] = None,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """List the tenant's webhook subscriptions."""
    run = run_for(db, config, tenant)
    event_type = _event_type(event) if event else None
    with opened(run.settings) as store:
        subs = store.list_subscriptions(run.tenant, event_type, _state(state))
    if json:
        output.print_json([output.subscription_json(sub) for sub in subs])
    elif subs:
        output.subscriptions_table(subs)
    else:
        output.message(f"no subscriptions in {run.tenant}")


@app.command()
def show(sub_id: SubId, reveal: RevealOpt = False,
         tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Show one subscription: configuration, state, headers and its latest send attempts."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as store:
        sub = store.get_subscription(run.tenant, sub_id)
        attempts = store.list_attempts(run.tenant, subscription_id=sub_id, limit=10)
    if json:
        output.print_json({**output.subscription_json(sub, reveal),
                           "latest_attempts": [output.attempt_json(a) for a in attempts]})
        return
    output.subscription_detail(sub, reveal)
    if attempts:
        output.attempts_table(attempts, title="Latest send attempts")
    else:
        output.message("no send attempts yet")


@app.command()
def edit(
    sub_id: SubId,
    url: Annotated[Optional[str], typer.Option("--url", "-u", help="New endpoint URL.", show_default=False)] = None,
    event: Annotated[Optional[str], typer.Option("--event", "-e", help="New event type.", show_default=False)] = None,
    description: Annotated[Optional[str], typer.Option("--description", "-d", help="New description.", show_default=False)] = None,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Change a subscription's URL, event type or description."""
    run = run_for(db, config, tenant)
    if url is None and event is None and description is None:
        raise UsageError("nothing to change: give --url, --event or --description")
    checked_url = validate.url(url, require_https=run.settings.require_https) if url is not None else None
    event_type = _event_type(event) if event is not None else None
    with opened(run.settings) as store:
        store.edit_subscription(run.tenant, sub_id, now=utcnow(), url=checked_url, event_type=event_type,
                                description=description)
        sub = store.get_subscription(run.tenant, sub_id)
    _print_subscription(sub, json, f"Updated subscription {sub_id}.")


@app.command()
def delete(
    sub_id: SubId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (required without a terminal).")] = False,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Delete a subscription (its send attempts stay in the history)."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as store:
        sub = store.get_subscription(run.tenant, sub_id)
        if not yes:
            confirm(f"Delete subscription {sub_id} ({sub['event_type']} -> {sub['url']})?", command="delete",
                    cancelled="nothing deleted")
        store.delete_subscription(run.tenant, sub_id)
    if json:
        output.print_json({"id": sub_id, "deleted": True})
    else:
        output.message(f"Deleted subscription {sub_id}.")


@app.command()
def enable(sub_id: SubId, tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Enable a subscription: its event triggers the webhook again."""
    _set_state(sub_id, "active", tenant, db, config, json)


@app.command()
def disable(sub_id: SubId, tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """Disable a subscription: its event no longer triggers the webhook."""
    _set_state(sub_id, "disabled", tenant, db, config, json)


def _set_state(sub_id, state, tenant, db, config, json) -> None:
    run = run_for(db, config, tenant)
    with opened(run.settings) as store:
        store.set_state(run.tenant, sub_id, state, now=utcnow())
        sub = store.get_subscription(run.tenant, sub_id)
    _print_subscription(sub, json, f"Subscription {sub_id} is {output.state_label(sub)}.")


def _print_subscription(sub: dict, json: bool, note: str) -> None:
    if json:
        output.print_json(output.subscription_json(sub))
    else:
        output.subscription_detail(sub)
        output.message(note)


@headers_app.command("add")
def headers_add(
    sub_id: SubId,
    key: Annotated[str, typer.Argument(help="Header name.", show_default=False)],
    value: Annotated[Optional[str], typer.Argument(help="Header value. Other users see it in `ps`: give a secret one with --value-file.", show_default=False)] = None,
    value_file: Annotated[Optional[str], typer.Option("--value-file", metavar="FILE", help="Read the value from FILE (- reads stdin) instead of VALUE.", show_default=False)] = None,
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Add a header to every delivery of a subscription (replaces one of the same name)."""
    run = run_for(db, config, tenant)
    if (value is None) == (value_file is None):
        raise UsageError("give the header value either as VALUE or with --value-file FILE (- reads stdin)")
    name = validate.header_name(key)
    checked = validate.header_value(name, value if value_file is None else inputs.read_value(value_file, "--value-file"))
    with opened(run.settings) as store:
        store.set_header(run.tenant, sub_id, name, checked, now=utcnow())
        sub = store.get_subscription(run.tenant, sub_id)
    _print_headers(sub, json, False)


@headers_app.command("remove")
def headers_remove(
    sub_id: SubId,
    key: Annotated[str, typer.Argument(help="Header name.", show_default=False)],
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Remove a header from a subscription."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as store:
        store.remove_header(run.tenant, sub_id, key, now=utcnow())
        sub = store.get_subscription(run.tenant, sub_id)
    _print_headers(sub, json, False)


@headers_app.command("list")
def headers_list(sub_id: SubId, reveal: RevealOpt = False,
                 tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False):
    """List a subscription's headers (sensitive values masked unless --reveal)."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as store:
        sub = store.get_subscription(run.tenant, sub_id)
    _print_headers(sub, json, reveal)


def _print_headers(sub: dict, json: bool, reveal: bool) -> None:
    if json:
        output.print_json(output.subscription_json(sub, reveal)["headers"])
    elif sub["headers"]:
        output.headers_table(sub, reveal)
    else:
        output.message(f"subscription {sub['id']} has no extra headers")


@secret_app.command("show")
def secret_show(sub_id: SubId, tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None,
                json: JsonOpt = False):
    """Print a subscription's signing secrets: the current one, and any old one still in its grace period."""
    run = run_for(db, config, tenant)
    with opened(run.settings) as store:
        store.get_subscription(run.tenant, sub_id)
        live = store.signing_secrets(sub_id, utcnow())
    if json:
        output.print_json(live)
        return
    for row in live:
        suffix = f"  (old, signs until {row['expires_at']})" if row["expires_at"] else ""
        output.show(row["secret"] + suffix)


@secret_app.command("rotate")
def secret_rotate(
    sub_id: SubId,
    grace: Annotated[str, typer.Option("--grace", help="How long the old secret keeps signing too.")] = "24h",
    tenant: TenantOpt = None, db: DbOpt = None, config: ConfigOpt = None, json: JsonOpt = False,
):
    """Give a subscription a new signing secret; the old one also signs during the grace period."""
    from alpana_hooks.signing import generate_secret

    run = run_for(db, config, tenant)
    grace_period = duration(grace)
    new_secret = generate_secret()
    now = utcnow()
    with opened(run.settings) as store:
        store.rotate_secret(run.tenant, sub_id, new_secret, now=now, old_expires=now + grace_period)
    if json:
        output.print_json({"id": sub_id, "secret": new_secret, "old_secret_expires_at": (now + grace_period).isoformat()})
        return
    output.show(new_secret)
    output.message(f"New signing secret for subscription {sub_id}; the old one keeps signing for {grace}.")
