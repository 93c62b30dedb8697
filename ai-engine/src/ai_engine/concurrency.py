"""Small helpers for structured concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def single_error(*types: type[BaseException]) -> Iterator[None]:
    """Let a task group's failure surface as the plain exception when it is one of `types`
    (anyio wraps everything in an ExceptionGroup), so callers can `except` it normally."""
    try:
        yield
    except BaseExceptionGroup as group:
        leaves = list(_leaves(group))
        if leaves and all(isinstance(e, types) for e in leaves):
            raise leaves[0] from None
        raise


def _leaves(group: BaseExceptionGroup) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc
