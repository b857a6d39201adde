"""Exit codes and the domain errors that carry them."""

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
