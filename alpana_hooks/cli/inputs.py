"""What users hand over in files or on stdin: read no further than a cap, keep secrets out of argv."""

from __future__ import annotations

import os
import sys

from alpana_hooks.errors import UsageError

SMALL_FILE_BYTES = 64 * 1024  # a secret, a header value or a headers file
SECRET_ENV = "ALPANA_HOOKS_SECRET"
PAYLOAD_SETTING = "[delivery] max_payload_bytes"


def is_utf8(arg: str) -> bool:
    """False for a command-line argument that was not valid UTF-8 (Python decodes those bytes as lone
    surrogates)."""
    return not any("\ud800" <= ch <= "\udfff" for ch in arg)


def read_capped(path: str, cap: int, what: str, setting: str | None = None) -> bytes:
    """A file's bytes (stdin for -), reading at most cap + 1 of them; a larger file is exit 2 (naming the setting
    that sets the cap, if one does)."""
    source = "stdin" if path == "-" else repr(path)
    try:
        if path == "-":
            if sys.stdin is None:
                raise UsageError(f"cannot read {what} from stdin: there is no stdin")
            data = sys.stdin.buffer.read(cap + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(cap + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise UsageError(f"cannot read {what} {source}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(data) > cap:
        raise UsageError(f"{what} {source} is larger than the limit of {cap} bytes" + (f" ({setting})" if setting else ""))
    return data


def read_text(path: str, cap: int, what: str, encoding: str = "utf-8", setting: str | None = None) -> str:
    """A capped file as text; bytes that are not UTF-8 are exit 2."""
    try:
        return read_capped(path, cap, what, setting).decode(encoding)
    except UnicodeDecodeError as exc:
        where = "stdin" if path == "-" else repr(path)
        raise UsageError(f"cannot read {what} {where}: not UTF-8 ({exc.reason})") from None


def read_value(path: str, what: str) -> str:
    """A secret or a header value from a file or stdin, without the one line ending `echo` adds."""
    text = read_text(path, SMALL_FILE_BYTES, what)
    return text.removesuffix("\n").removesuffix("\r")


def header_lines(path: str) -> list[str]:
    """The 'Name: Value' lines of a --header-file; blank lines are skipped.

    Split on LF only: str.splitlines() would also split on NEL (0x85) and other separators,
    which must reach the header check and be refused instead."""
    text = read_text(path, SMALL_FILE_BYTES, "--header-file")
    return [line.removesuffix("\r") for line in text.split("\n") if line.strip()]


def secret(flag_value: str | None, file_path: str | None) -> tuple[str | None, str]:
    """The signing secret and where it came from: --secret, --secret-file (- for stdin) or ALPANA_HOOKS_SECRET."""
    if flag_value is not None and file_path is not None:
        raise UsageError("give either --secret or --secret-file, not both")
    if file_path is not None:
        return read_value(file_path, "--secret-file"), "--secret-file"
    if flag_value is not None:
        return flag_value, "--secret"
    value = os.environ.get(SECRET_ENV)
    return value, SECRET_ENV  # an empty variable is an invalid secret, not a missing one


def read_data(value: str, cap: int) -> dict:
    """--data JSON or @file (- for stdin), read no further than the payload limit."""
    text = value
    if value.startswith("@"):
        text = read_text(value[1:], cap, "--data file", setting=PAYLOAD_SETTING)
    elif len(value.encode("utf-8", errors="surrogatepass")) > cap:
        raise UsageError(f"--data is larger than the limit of {cap} bytes ({PAYLOAD_SETTING})")
    import json  # here, not at the top: --help imports this module

    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"invalid --data JSON: {exc}") from None
    except RecursionError:
        raise UsageError("invalid --data JSON: nested too deeply") from None
