"""Option values read without pydantic.

Typer 0.29 coerces every option and argument value (a default too) through a pydantic TypeAdapter, so every
command that takes options imported pydantic: ~100 ms and ~8 MiB before it did anything. The values our
commands take are plain: a str, a bool, an int or float within bounds, a list of str. `plain_value` reads
those as pydantic does; anything else (a bad value, `1_000`, ` 5`, an annotation we do not use) goes to Typer's
own pydantic path, so the results and every error message stay Typer's. tests/test_values.py checks both
against Typer and fails if Typer's internals that this relies on move (Typer is pinned to 0.29.x).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from typer._coercion import RuntimeParam, build_runtime_param
from typer.core import _TyperParameter

NOT_PLAIN = object()  # plain_value's answer for a value it leaves to Typer
# ASCII digits only (int() also reads other scripts' digits, pydantic does not), short enough for any bound.
NUMBERS = {int: re.compile(r"[0-9]{1,18}"), float: re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")}


def plain_value(annotation: Any, parameter_info: Any, value: Any) -> Any:
    """`value` as Typer's pydantic coercion returns it for `annotation`, or NOT_PLAIN if that needs pydantic."""
    if parameter_info.parser is not None or parameter_info.clamp:
        return NOT_PLAIN
    if annotation in (str, bool):
        return value if type(value) is annotation else NOT_PLAIN
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        plain = isinstance(value, (list, tuple)) and all(type(item) is str for item in value)
        return list(value) if plain else NOT_PLAIN
    if annotation not in NUMBERS:
        return NOT_PLAIN
    if type(value) is str and NUMBERS[annotation].fullmatch(value):
        value = annotation(value)
    if type(value) is not annotation:
        return NOT_PLAIN
    low, high = parameter_info.min, parameter_info.max
    within = (low is None or value >= low) and (high is None or value <= high)  # NaN is not within any bounds
    return value if within else NOT_PLAIN


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    """Typer's coercion of one parameter, with pydantic only for what plain_value leaves to it."""

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        plain = plain_value(self.annotation, self.parameter_info, value)
        if plain is NOT_PLAIN:
            return build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)
        return plain


def runtime_param(self: _TyperParameter) -> RuntimeParam:
    """_TyperParameter.get_runtime_param: the parameter's coercion, built once; files stay Typer's."""
    if self._runtime_param is None:
        descriptor = self.type_descriptor
        self._runtime_param = build_runtime_param(descriptor) if descriptor.file_annotation is not None else \
            PlainRuntimeParam(annotation=descriptor.annotation, parameter_info=descriptor.parameter_info)
    return self._runtime_param


def read_plainly() -> None:
    """Have Typer coerce every parameter through PlainRuntimeParam: the commands' options and arguments, and the
    --help flag Click adds to each command when it parses. Process-wide (cli/groups.py calls it on import), which
    is harmless to any other Typer app here: what is not plain still goes through Typer's own coercion."""
    _TyperParameter.get_runtime_param = runtime_param  # type: ignore[method-assign]
