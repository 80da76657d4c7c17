"""Errors that tell a person which file, column or parameter is wrong and how."""

from __future__ import annotations


class EcomError(Exception):
    """Base class of the project's own errors.

    ``retryable`` says whether running the same task again could succeed: a lock held by another
    writer or a registry that did not answer may clear up; a bad file, a bad parameter, a contract
    violation or a blocked gate gives the same answer on every try, so its task fails at once
    (without the retries that would only delay the alert).
    """

    retryable: bool = True


class ContractError(EcomError, ValueError):
    """A frame does not conform to the canonical data contract."""

    retryable = False


class SourceError(EcomError, ValueError):
    """A source file is missing, unreadable or malformed.

    The message always names the file and, where one is at fault, the column.
    """

    retryable = False

    def __init__(self, path: object, problem: str, *, column: str | None = None) -> None:
        self.path = str(path)
        self.column = column
        self.problem = problem
        where = f"{self.path}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {problem}")


class ConfigError(EcomError, ValueError):
    """A parameter or configuration value is invalid; the message names the parameter."""

    retryable = False


def is_permanent(exc: BaseException) -> bool:
    """True for the project's errors that a retry cannot fix (see :class:`EcomError`)."""
    return isinstance(exc, EcomError) and not exc.retryable
