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


class CorruptPartitionError(EcomError, ValueError):
    """A committed partition's files do not match its manifest (changed, truncated, missing bytes)."""

    retryable = False  # the bytes stay wrong until the partition is repaired or rebuilt

    def __init__(self, uri: str, problem: str) -> None:
        self.uri = uri
        self.problem = problem
        super().__init__(
            f"corrupt partition {uri}: {problem}. Run `ecom verify --repair` (it moves the partition "
            "to corrupt/ with a record) and rerun the nightly, which rebuilds it from its upstream"
        )


class ConcurrentWriterError(EcomError, RuntimeError):
    """Another process holds the data root's writer lock; the message names it.

    Retryable: the other writer finishes, and the retry (with back-off) gets the lock.
    """


class NotEnoughDataError(EcomError, ValueError):
    """The shop's data is too young, small or sparse for a model: it steps aside, it is not broken.

    Not "bad data" (that is :class:`ContractError` / :class:`SourceError`): the data is fine, there
    is just not enough of it yet for the model to be trained or judged honestly. The DAG shows the
    task *skipped* (not failed) with the message as the reason; the model's champion, if any, stays
    published. The message says what the model needs and what the shop has.
    """

    retryable = False  # more data comes with later days, not with a retry
    skip = True  # read by the DAG's ``_fail_fast``: skipped with the reason, not failed


def skips(exc: BaseException) -> bool:
    """True for an error that means "step aside with this reason" (see :class:`NotEnoughDataError`)."""
    return isinstance(exc, EcomError) and bool(getattr(exc, "skip", False))


def is_permanent(exc: BaseException) -> bool:
    """True for the project's errors that a retry cannot fix (see :class:`EcomError`)."""
    return isinstance(exc, EcomError) and not exc.retryable
