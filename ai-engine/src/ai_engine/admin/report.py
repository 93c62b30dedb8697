"""Check results: one line each, PASS / FAIL / SKIP, with the fix in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TextIO


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"  # not applicable to this configuration, or not checkable: says why


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status.value:4}  {self.name:<22} {self.detail}"
        if self.status is Status.FAIL and self.fix:
            text += f"\n      fix: {self.fix}"
        return text


def passed(name: str, detail: str) -> Result:
    return Result(name, Status.PASS, detail)


def failed(name: str, detail: str, fix: str) -> Result:
    return Result(name, Status.FAIL, detail, fix)


def skipped(name: str, why: str) -> Result:
    return Result(name, Status.SKIP, why)


def print_report(results: list[Result], out: TextIO) -> int:
    """Print every result; the exit code is 1 when any check failed."""
    for r in results:
        print(r.line(), file=out)
    failures = sum(r.status is Status.FAIL for r in results)
    print(f"\n{len(results)} checks: {failures} failed" if failures else f"\n{len(results)} checks: all passed or skipped", file=out)
    return 1 if failures else 0
