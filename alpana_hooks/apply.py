"""Subscriptions as code: read a subscriptions file, plan it against the store, write one; pure, no I/O."""

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace

from alpana_hooks import filters, validate
from alpana_hooks import headers as header_rules
from alpana_hooks.errors import UsageError
from alpana_hooks.events import UnknownEventType, get_event_type
from alpana_hooks.headers import is_sensitive
from alpana_hooks.model import PlanAction, State, Subscription

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FILE_KEYS = ("tenant", "subscription")
SUBSCRIPTION_KEYS = ("event", "url", "description", "state", "filter", "rate_limit", "headers")
STATES = ("active", "disabled")
PAST = {PlanAction.CREATE: "created", PlanAction.UPDATE: "updated", PlanAction.UNCHANGED: "unchanged",
        PlanAction.DELETE: "deleted"}
FUTURE = {PlanAction.CREATE: "to create", PlanAction.UPDATE: "to update", PlanAction.UNCHANGED: "unchanged",
          PlanAction.DELETE: "to delete"}
# `$${` is a literal `${`; `${NAME}` is an environment variable; any other `${` is an error.
PLACEHOLDER = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


@dataclass(frozen=True)
class Desired:
    """One subscription as the file wants it (event and URL are its identity)."""

    event: str
    url: str
    description: str = ""
    state: str = "active"
    headers: tuple[tuple[str, str], ...] = ()
    filter: str | None = None
    rate_limit: str | None = None  # '10/s', '600/m', '5000/h'; None: no limit


@dataclass(frozen=True)
class SubscriptionsFile:
    """A parsed, checked subscriptions file, its placeholders expanded."""

    tenant: str | None
    subscriptions: tuple[Desired, ...]


@dataclass(frozen=True)
class Step:
    """One plan entry: the action on one subscription and the fields it writes."""

    action: PlanAction
    event: str
    url: str
    sub_id: int | None = None
    changes: tuple[str, ...] = ()
    description: str | None = None  # None: leave as is
    state: str | None = None  # None: leave as is
    set_headers: tuple[tuple[str, str], ...] = ()
    remove_headers: tuple[str, ...] = ()
    filter: str | None = None  # None: leave as is; "": remove
    rate_limit: str | None = None  # None: leave as is; "": remove


# -- reading a file ----------------------------------------------------------------------------

def parse(text: str, source: str, *, env: Mapping[str, str], require_https: bool) -> SubscriptionsFile:
    """Read and check a whole subscriptions file; UsageError (one line naming source) on any problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: invalid TOML: {exc}") from None
    _known_keys(data, FILE_KEYS, source)
    tenant = _tenant(data.get("tenant"), source)
    raw_subs = data.get("subscription", [])
    if not isinstance(raw_subs, list) or not all(isinstance(raw, dict) for raw in raw_subs):
        raise UsageError(f"{source}: 'subscription' must be an array of tables: write [[subscription]]")
    missing: dict[str, str] = {}
    wanted = tuple(
        _subscription(raw, f"{source}: subscription #{index}", env, missing, require_https)
        for index, raw in enumerate(raw_subs, 1)
    )
    _refuse_duplicates(wanted, source)
    if missing:
        where = {name: place.removeprefix(f"{source}: ") for name, place in missing.items()}
        raise UsageError(f"{source}: {_missing_text(where)}")
    return SubscriptionsFile(tenant=tenant, subscriptions=wanted)


def _known_keys(table: dict, known: tuple[str, ...], where: str) -> None:
    """Refuse keys the format does not have."""
    for key in table:
        if key not in known:
            raise UsageError(f"{where}: unknown key {key!r} (known keys: {', '.join(known)})")


def _tenant(value, source: str) -> str | None:
    """The file's optional tenant, checked."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(f"{source}: key 'tenant' must be a string, not {value!r}")
    try:
        return validate.tenant(value)
    except UsageError as exc:
        raise UsageError(f"{source}: key 'tenant': {exc}") from None


def _subscription(raw: dict, where: str, env: Mapping[str, str], missing: dict, require_https: bool) -> Desired:
    """One [[subscription]] table, checked, its header placeholders expanded."""
    _known_keys(raw, SUBSCRIPTION_KEYS, where)
    event = _string(raw, "event", where, required=True)
    url = _string(raw, "url", where, required=True)
    state = _string(raw, "state", where) if "state" in raw else "active"
    if state not in STATES:
        raise UsageError(f"{where}, key 'state': {state!r} is not active or disabled")
    with _key(where, "event"):
        event = _event_type(event)
    with _key(where, "url"):
        url = validate.url(url, require_https=require_https)
    with _key(where, "filter"):
        expression = filters.check(_string(raw, "filter", where)) if "filter" in raw else None
    with _key(where, "rate_limit"):
        rate = validate.rate_limit(_string(raw, "rate_limit", where)) if "rate_limit" in raw else None
    return Desired(event=event, url=url, description=_string(raw, "description", where), state=state,
                   headers=_headers(raw.get("headers", {}), where, env, missing), filter=expression, rate_limit=rate)


def _string(raw: dict, key: str, where: str, required: bool = False) -> str:
    """A string value of the table ('' when absent and optional)."""
    if key not in raw:
        if required:
            raise UsageError(f"{where}: key {key!r} is missing")
        return ""
    value = raw[key]
    if not isinstance(value, str):
        raise UsageError(f"{where}, key {key!r}: must be a string, not {value!r}")
    return value


class _key:
    """Prefix a UsageError raised inside the block with where it happened."""

    def __init__(self, where: str, key: str):
        self.prefix = f"{where}, key {key!r}"

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, UsageError):
            raise UsageError(f"{self.prefix}: {exc}") from None
        return False


def _event_type(name: str) -> str:
    """The catalog name of an event type, as a UsageError when unknown."""
    try:
        return get_event_type(name).name
    except UnknownEventType as exc:
        raise UsageError(str(exc)) from None


def _headers(raw, where: str, env: Mapping[str, str], missing: dict) -> tuple[tuple[str, str], ...]:
    """The [subscription.headers] table: names checked, values expanded then checked."""
    if not isinstance(raw, dict):
        raise UsageError(f"{where}, key 'headers': must be a table of name = \"value\"")
    headers = []
    for name, value in raw.items():
        with _key(where, f"headers.{name}"):
            if not isinstance(value, str):
                raise UsageError(f"must be a string, not {value!r} (quote names that hold a dot)")
            header_rules.header_name(name)
            expanded = expand(value, env, missing, f"{where}, header {name!r}")
            headers.append((name, header_rules.header_value(name, expanded) if expanded is not None else ""))
    with _key(where, "headers"):
        header_rules.unique_headers(headers)
    return tuple(headers)


def expand(value: str, env: Mapping[str, str], missing: dict, where: str) -> str | None:
    """Replace ${NAME} with env[NAME] and $${ with ${; None when a variable is unset or empty (noted in missing)."""
    found_all = True

    def one(match: re.Match) -> str:
        nonlocal found_all
        if match.group(0) == "$${":
            return "${"
        name = match.group(1)
        if name is None:
            raise UsageError("invalid placeholder: write ${NAME} (ASCII letters, digits, _) or $${ for a literal ${")
        if not env.get(name):
            missing.setdefault(name, where)
            found_all = False
            return ""
        return env[name]

    expanded = PLACEHOLDER.sub(one, value)
    return expanded if found_all else None


def _missing_text(missing: dict[str, str]) -> str:
    """One line naming every unset variable; nothing is applied."""
    names = list(missing)
    if len(names) == 1:
        return f"environment variable {names[0]} is not set or empty ({missing[names[0]]}); nothing was applied"
    return f"environment variables {', '.join(names)} are not set or empty; nothing was applied"


def _refuse_duplicates(wanted: tuple[Desired, ...], source: str) -> None:
    """The same event and URL twice in one file is an error."""
    seen: dict[tuple[str, str], int] = {}
    for index, want in enumerate(wanted, 1):
        first = seen.setdefault((want.event, want.url), index)
        if first != index:
            raise UsageError(f"{source}: subscription #{index} repeats subscription #{first} "
                             f"({want.event} -> {want.url}); each event and URL pair may appear once")


# -- planning ----------------------------------------------------------------------------------

def plan(wanted: tuple[Desired, ...] | list[Desired], current: list[Subscription], *, prune: bool = False) -> list[Step]:
    """The steps that make the store's subscriptions match wanted: file order, then deletions."""
    by_key = {(sub.event_type, validate.normal_url(sub.url)): sub for sub in current}
    steps = [_step(want, by_key.get((want.event, validate.normal_url(want.url)))) for want in wanted]
    if prune:
        steps += [Step(PlanAction.DELETE, sub.event_type, sub.url, sub_id=sub.id) for sub in unlisted(wanted, current)]
    return steps


def unlisted(wanted, current: list[Subscription]) -> list[Subscription]:
    """The store's subscriptions the file does not list (deleted by --prune)."""
    keys = {(want.event, validate.normal_url(want.url)) for want in wanted}
    return [sub for sub in current if (sub.event_type, validate.normal_url(sub.url)) not in keys]


def _step(want: Desired, have: Subscription | None) -> Step:
    """Create, update or leave alone one subscription."""
    if have is None:
        return Step(PlanAction.CREATE, want.event, want.url, changes=_create_notes(want), description=want.description,
                    state=want.state, set_headers=want.headers, filter=want.filter, rate_limit=want.rate_limit)
    changes = []
    if want.description != have.description:
        changes.append(f"description {have.description!r} -> {want.description!r}")
    if want.state != have.state:
        changes.append(f"state {have.state} -> {want.state}")
    for key in ("filter", "rate_limit"):
        if getattr(want, key) != getattr(have, key):
            changes.append(f"{key.replace('_', ' ')} {getattr(have, key)!r} -> {getattr(want, key)!r}")
    set_headers, remove_headers = header_diff(want.headers, have.headers)
    have_names = {name.lower() for name, _ in have.headers}
    changes += [f"header {name} {'changed' if name.lower() in have_names else 'added'}" for name, _ in set_headers]
    changes += [f"header {name} removed" for name in remove_headers]
    return Step(
        PlanAction.UPDATE if changes else PlanAction.UNCHANGED, want.event, want.url, sub_id=have.id,
        changes=tuple(changes), description=want.description if want.description != have.description else None,
        state=want.state if want.state != have.state else None,
        set_headers=set_headers, remove_headers=remove_headers,
        filter=(want.filter or "") if want.filter != have.filter else None,
        rate_limit=(want.rate_limit or "") if want.rate_limit != have.rate_limit else None,
    )


def _create_notes(want: Desired) -> tuple[str, ...]:
    """What a new subscription gets, without header values."""
    notes = [f"description {want.description!r}"] if want.description else []
    notes += ["disabled"] if want.state == "disabled" else []
    notes += [f"filter {want.filter!r}"] if want.filter else []
    notes += [f"rate limit {want.rate_limit}"] if want.rate_limit else []
    notes += [f"headers {', '.join(name for name, _ in want.headers)}"] if want.headers else []
    return tuple(notes)


def header_diff(wanted: tuple[tuple[str, str], ...], have: tuple[tuple[str, str], ...]):
    """(headers to set, names to remove); names compare case-insensitively, a new spelling alone is no change."""
    have_values = {name.lower(): value for name, value in have}
    wanted_names = {name.lower() for name, _ in wanted}
    to_set = tuple((name, value) for name, value in wanted if have_values.get(name.lower()) != value)
    to_remove = tuple(name for name, _ in have if name.lower() not in wanted_names)
    return to_set, to_remove


def step_json(step: Step) -> dict:
    """The JSON form of a plan entry."""
    return {"action": str(step.action), "id": step.sub_id, "event": step.event, "url": step.url,
            "changes": list(step.changes)}


# -- carrying a plan out -----------------------------------------------------------------------

def carry_out(store, tenant: str, step: Step, now) -> Step:
    """Write one step with the store's methods (inside the caller's transaction); a new subscription
    gets a new signing secret."""
    if step.action == PlanAction.CREATE:
        from alpana_hooks.signing import generate_secret

        sub_id = store.add_subscription(tenant=tenant, event_type=step.event, url=step.url,
                                        description=step.description, state=step.state,
                                        headers=list(step.set_headers), secret=generate_secret(), now=now,
                                        filter=step.filter, rate_limit=step.rate_limit)
        return replace(step, sub_id=sub_id)
    if step.action == PlanAction.DELETE:
        store.delete_subscription(tenant, step.sub_id)
    elif step.action == PlanAction.UPDATE:
        _update(store, tenant, step, now)
    return step


def refuse_unagreed_deletions(steps: list[Step], agreed: set[int] | None) -> None:
    """A subscription added while a person was asked is not deleted without asking again."""
    if agreed is not None and any(step.action == PlanAction.DELETE and step.sub_id not in agreed for step in steps):
        raise UsageError("the tenant's subscriptions changed while you were asked; nothing was written: run apply again")


def _update(store, tenant: str, step: Step, now) -> None:
    """Disable first, enable last, so no delivery goes out half-configured."""
    if step.state == State.DISABLED:
        store.set_state(tenant, step.sub_id, State.DISABLED, now=now)
    for name in step.remove_headers:
        store.remove_header(tenant, step.sub_id, name, now=now)
    for name, value in step.set_headers:
        store.set_header(tenant, step.sub_id, name, value, now=now)
    if step.description is not None or step.filter is not None or step.rate_limit is not None:
        store.edit_subscription(tenant, step.sub_id, now=now, description=step.description, filter=step.filter,
                                rate_limit=step.rate_limit)
    if step.state == State.ACTIVE:
        store.set_state(tenant, step.sub_id, State.ACTIVE, now=now)


# -- writing a file ----------------------------------------------------------------------------

def placeholder(header_name: str) -> str:
    """The environment variable that stands for a sensitive header's value: ALPANA_X_API_KEY."""
    return "ALPANA_" + re.sub(r"[^A-Z0-9]", "_", header_name.upper())


def export_document(tenant: str, subs: list[Subscription], *, reveal: bool = False) -> dict:
    """The file's content for these subscriptions; sensitive values become ${ALPANA_…} unless reveal."""
    return {"tenant": tenant, "subscription": [_export_one(sub, reveal) for sub in subs]}


def _export_one(sub: Subscription, reveal: bool) -> dict:
    """One [[subscription]] table (no secret, no ids or times)."""
    entry: dict = {"event": sub.event_type, "url": sub.url, "description": sub.description, "state": str(sub.state)}
    entry.update({key: getattr(sub, key) for key in ("filter", "rate_limit") if getattr(sub, key) is not None})
    if sub.headers:
        entry["headers"] = {
            name: "${" + placeholder(name) + "}" if is_sensitive(name) and not reveal else value.replace("${", "$${")
            for name, value in sub.headers
        }
    return entry


def placeholders(subs: list[Subscription]) -> dict[str, set[str]]:
    """Each placeholder an export without --reveal writes, with the distinct values it stands for."""
    found: dict[str, set[str]] = {}
    for sub in subs:
        for name, value in sub.headers:
            if is_sensitive(name):
                found.setdefault(placeholder(name), set()).add(value)
    return found


def to_toml(document: dict) -> str:
    """Write an export_document as TOML text (basic strings, escaped so the text stays terminal-safe)."""
    lines = [f"tenant = {quote(document['tenant'])}"]
    for entry in document["subscription"]:
        lines += ["", "[[subscription]]"]
        lines += [f"{key} = {quote(entry[key])}" for key in ("event", "url", "description", "state", "filter", "rate_limit")
                  if key in entry]
        if entry.get("headers"):
            lines.append("[subscription.headers]")
            lines += [f"{toml_key(name)} = {quote(value)}" for name, value in entry["headers"].items()]
    return "\n".join(lines) + "\n"


def toml_key(name: str) -> str:
    """A bare key when TOML allows it, else a quoted one (header names may hold dots and more)."""
    return name if BARE_KEY.fullmatch(name) else quote(name)


def quote(text: str) -> str:
    """A TOML basic string: quotes, backslashes and every non-printable character escaped."""
    return '"' + "".join(_toml_char(ch) for ch in text) + '"'


def _toml_char(ch: str) -> str:
    """One character as TOML writes it inside a basic string."""
    if ch in TOML_ESCAPES:
        return TOML_ESCAPES[ch]
    if ch.isprintable() or ch == " ":
        return ch
    return f"\\u{ord(ch):04X}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08X}"
