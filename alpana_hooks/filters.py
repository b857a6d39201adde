"""Payload filters: a JMESPath expression per subscription, evaluated on the envelope {type, tenant, data}; the
event goes to the subscription only when the result is truthy in JMESPath's sense. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from alpana_hooks.errors import UsageError

MAX_FILTER_CHARS = 1024


@dataclass(frozen=True)
class FilterResult:
    """What a filter made of one envelope: whether it matched, the value it gave, or why it could not run."""

    matched: bool
    value: Any = None
    error: str | None = None

    @property
    def reason(self) -> str:
        """One line a person reads: the value the expression gave and what that means."""
        import json

        if self.error is not None:
            return f"the expression failed on this event ({self.error}): no match"
        shown = json.dumps(self.value, ensure_ascii=False)
        return f"the expression gives {shown}, which is {'true' if self.matched else 'false'} in JMESPath"


def envelope(tenant: str, event_type: str, data: dict) -> dict:
    """What a filter sees of an event."""
    return {"type": event_type, "tenant": tenant, "data": data}


def check(expression: str) -> str:
    """The expression, if it is valid JMESPath naming known functions; UsageError with the position otherwise."""
    if not expression.strip():
        raise UsageError("invalid filter '': the expression is empty")
    if len(expression) > MAX_FILTER_CHARS:
        raise UsageError(f"invalid filter: longer than {MAX_FILTER_CHARS} characters")
    _compiled(expression)
    return expression


@lru_cache(maxsize=512)
def _compiled(expression: str):
    import jmespath
    from jmespath import exceptions, functions

    try:
        parsed = jmespath.compile(expression)
    except exceptions.LexerError as exc:
        raise UsageError(f"invalid filter {expression!r}: {exc.message} at position {exc.lexer_position + 1}") from None
    except exceptions.IncompleteExpressionError as exc:
        raise UsageError(f"invalid filter {expression!r}: incomplete expression at position {exc.lex_position + 1}"
                         " (the end)") from None
    except exceptions.ParseError as exc:
        raise UsageError(f"invalid filter {expression!r}: {exc.msg} at position {exc.lex_position + 1}") from None
    except exceptions.JMESPathError as exc:
        raise UsageError(f"invalid filter {expression!r}: {' '.join(str(exc).split())}") from None
    unknown = sorted(_function_names(parsed.parsed) - set(functions.Functions.FUNCTION_TABLE))
    if unknown:
        raise UsageError(f"invalid filter {expression!r}: unknown function {unknown[0]}()")
    return parsed


def _function_names(node: dict) -> set[str]:
    """The names of every function an expression calls."""
    names = {node["value"]} if node.get("type") == "function_expression" else set()
    for child in node.get("children", []):
        if isinstance(child, dict):
            names |= _function_names(child)
    return names


def evaluate(expression: str, event: dict) -> FilterResult:
    """Run a checked expression on an envelope; a type error at run time (contains() of a missing field) is
    no match, as in Convoy."""
    from jmespath import exceptions

    try:
        value = _compiled(expression).search(event)
    except exceptions.JMESPathError as exc:
        return FilterResult(False, None, " ".join(str(exc).split()))
    return FilterResult(truthy(value), value)


def truthy(value: Any) -> bool:
    """JMESPath's truth: null, false, "", [] and {} are false; everything else (0 too) is true."""
    if value is None or value is False:
        return False
    return not (isinstance(value, (str, list, dict)) and not value)


def matches(expression: str | None, event: dict) -> bool:
    """Whether an event goes to a subscription with this filter (None: no filter, everything goes)."""
    return expression is None or evaluate(expression, event).matched
