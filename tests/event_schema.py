"""Delivered bodies checked against the catalog's JSON Schemas with the jsonschema package.

jsonschema checks a format only when it has a checker for it, and its date-time and uri checkers
need optional packages; so both are given here, and the schemas' formats are always checked."""

import re
from datetime import datetime

import jsonschema

from alpana_hooks.events import CATALOG

FORMAT_CHECKER = jsonschema.FormatChecker()
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))")


@FORMAT_CHECKER.checks("date-time")
def is_date_time(value: object) -> bool:
    """RFC 3339 date-time: a real calendar date and time, and a time zone (Z or +hh:mm)."""
    if not isinstance(value, str):
        return True  # a format says nothing about other types
    match = _DATE_TIME.fullmatch(value)
    if not match:
        return False
    try:
        datetime.strptime(f"{match[1]}T{match[2]}", "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return match[4] is None or (int(match[4]) < 24 and int(match[5]) < 60)


@FORMAT_CHECKER.checks("uri")
def is_uri(value: object) -> bool:
    """An absolute URI: a scheme, a colon, and no whitespace."""
    return not isinstance(value, str) or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S*", value) is not None


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def schema_problems(body: object, schema: dict | None = None) -> list[str]:
    """Each error of `body` against `schema` (by default the schema of the body's own type), as "path: message"."""
    if schema is None:
        schema = CATALOG[body["type"]].json_schema()  # type: ignore[index]
    return [f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in validator(schema).iter_errors(body)]
