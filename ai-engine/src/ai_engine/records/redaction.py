"""Optional redaction of digit strings (`records.redact_digits`): caller numbers and digit runs
in the transcript keep only their last `keep` digits, e.g. keep=2: `+4930123456` → `+********56`,
"my card is 4111 1111 1111 1234" → "my card is **** **** **** **34".

A digit run is digits possibly split by single spaces, dots or dashes (how numbers are spoken
and transcribed); runs shorter than `min_digits` (times, small amounts) are left alone.
"""

from __future__ import annotations

import dataclasses
import re

from .record import CallRecord

_RUN = re.compile(r"\d(?:[ .\-]?\d)*")


def redact(text: str, keep: int, min_digits: int) -> str:
    def one(m: re.Match[str]) -> str:
        run = m.group(0)
        digits = sum(c.isdigit() for c in run)
        if digits < min_digits:
            return run
        hide = digits - keep
        out = []
        for c in run:
            if c.isdigit() and hide > 0:
                out.append("*")
                hide -= 1
            else:
                out.append(c)
        return "".join(out)

    return _RUN.sub(one, text)


def redact_record(record: CallRecord, keep: int, min_digits: int) -> CallRecord:
    transcript = [{**turn, "text": redact(turn["text"], keep, min_digits)} for turn in record.transcript]
    return dataclasses.replace(
        record,
        caller_number=redact(record.caller_number, keep, 1),
        transcript=transcript,
    )
