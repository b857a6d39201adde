"""Help that reads like a tool's: each option's value named for what it holds (`--since DURATION|TIME`, not
`<str>`), the choices of --state and --status listed and completed by TAB, event types completed by TAB, and no
range for ids and limits whose only bound is SQLite's largest integer."""

from __future__ import annotations

STATUSES = ("pending", "sending", "succeeded", "failed")  # model.Status, not imported on the --help path
STATES = ("active", "disabled")
METAVARS = {
    "db": "PATH|URL", "config": "FILE", "tenant": "TENANT", "since": "DURATION|TIME", "limit": "N",
    "interval": "SECONDS", "subscription": "ID", "event": "EVENT", "type_": "EVENT", "url": "URL",
    "header": "'NAME: VALUE'", "header_file": "FILE", "value_file": "FILE", "secret_file": "FILE",
    "older_than": "DURATION", "grace": "DURATION", "tolerance": "DURATION", "data": "JSON|@FILE",
    "status": "|".join(STATUSES), "state": "|".join(STATES), "version": "N", "port": "PORT",
}
CHOICES = {"status": STATUSES, "state": STATES}


def _event_types(ctx, param, incomplete: str) -> list[str]:
    """TAB completion of an event type (ping included where a filter takes it)."""
    from alpana_hooks.events import CATALOG

    return [name for name in CATALOG if name.startswith(incomplete)]


def _choices(values: tuple[str, ...]):
    def complete(ctx, param, incomplete: str) -> list[str]:
        return [value for value in values if value.startswith(incomplete)]

    return complete


def tidy(command) -> None:
    """Name the values of a command's options and arguments, and complete their choices (once per command)."""
    if getattr(command, "_tidied", False):
        return
    command._tidied = True
    for param in getattr(command, "params", []):
        name = param.name or ""
        numeric = getattr(param, "min", None) is not None or getattr(param, "max", None) is not None
        if param.metavar is None and not getattr(param, "is_flag", False):
            param.metavar = "CODE" if name == "status" and numeric else METAVARS.get(name, name.upper().rstrip("_"))
        if name in CHOICES and not numeric:
            param._custom_shell_complete = _choices(CHOICES[name])
        elif name in ("event", "type_", "event_type"):
            param._custom_shell_complete = _event_types
        if param.param_type_name == "argument":
            param.display_type_rich = lambda ctx: None  # "TYPE", not "TYPE <str>"
        if getattr(param, "max", None) == 2**63 - 1:  # MAX_ID: a bound no one needs to read
            param._get_number_range_help_str = lambda: None
