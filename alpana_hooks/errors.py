"""Exit codes and the domain errors that carry them."""

import sys
from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes, as the README's "Exit codes" table documents them."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_FOUND = 3
    DELIVERY_FAILED = 4
    VERIFY_FAILED = 5
    INTERRUPTED = 130


class HooksError(Exception):
    """A failure the user should see as one line on stderr, with an exit code."""

    exit_code = ExitCode.UNEXPECTED


class UsageError(HooksError):
    """Bad usage or invalid input; nothing was written."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The config file or a setting is invalid."""


class NotFound(HooksError):
    """A subscription, attempt or event does not exist in this tenant."""

    exit_code = ExitCode.NOT_FOUND


class Conflict(UsageError):
    """The input duplicates something that already exists."""


class VerifyFailed(HooksError):
    """A signature or timestamp did not verify."""

    exit_code = ExitCode.VERIFY_FAILED


class StoreUnavailable(HooksError):
    """The database cannot be reached (PostgreSQL down, the connection lost): nothing half-written."""


def failure(exc: BaseException) -> tuple[str, int] | None:
    """The one line and exit code a command shows for a domain error, a database error or Ctrl-C; None for
    anything else (a bug: let it raise)."""
    if isinstance(exc, HooksError):
        return str(exc), int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", int(ExitCode.INTERRUPTED)
    # only a command that opened the database can fail in it
    errors = tuple(m.DatabaseError if m.__name__ == "sqlite3" else m.Error
                   for m in (sys.modules.get("sqlite3"), sys.modules.get("psycopg")) if m is not None)
    if errors and isinstance(exc, errors):
        return "database error: " + " ".join(str(exc).split()), int(ExitCode.UNEXPECTED)
    return None
