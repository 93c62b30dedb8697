"""Exception groups, read one way in both services.

anyio wraps every task group's failure in a (nested) `ExceptionGroup`, even a single error.
`single_error` lets a caller `except` the plain exception when every leaf is of the expected
types; `innermost` names the first real error (for a log line or an `error` event).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def leaves(group: BaseExceptionGroup) -> Iterator[BaseException]:
    """Every exception inside `group`, nested groups flattened, in order."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from leaves(exc)
        else:
            yield exc


def innermost(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups; `exc` itself when not a group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


@contextmanager
def single_error(*types: type[BaseException]) -> Iterator[None]:
    """Let a task group's failure surface as the plain exception when all its leaves are of
    `types` (the first one is raised), so callers can `except` it normally."""
    try:
        yield
    except BaseExceptionGroup as group:
        found = list(leaves(group))
        if found and all(isinstance(e, types) for e in found):
            raise found[0] from None
        raise
