"""Exception groups read one way: the plain error when it is the expected kind, the innermost for logs."""
import pytest

from voice_common.errors import innermost, leaves, single_error


def nested(*excs):
    return ExceptionGroup("outer", [ExceptionGroup("inner", list(excs))])


def test_single_error_unwraps_expected_errors_and_keeps_others_grouped():
    with pytest.raises(TimeoutError):
        with single_error(TimeoutError):
            raise nested(TimeoutError("slow"))
    with pytest.raises(ExceptionGroup):
        with single_error(TimeoutError):
            raise nested(TimeoutError("slow"), ValueError("bug"))


def test_innermost_and_leaves():
    group = nested(KeyError("a"), ValueError("b"))
    assert isinstance(innermost(group), KeyError)
    assert [type(e) for e in leaves(group)] == [KeyError, ValueError]
    plain = RuntimeError("x")
    assert innermost(plain) is plain
