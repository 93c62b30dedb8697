"""Errors of the ARI edge. Asterisk's REST errors are not uniform (FACTS 49-52, 57, 59):
the message is under `message` or, for some 500s, under `error`."""

from __future__ import annotations


class AriUnavailable(Exception):
    """No answer from Asterisk: not connected, connection refused, or timed out."""


class AriError(Exception):
    def __init__(self, status: int, message: str, operation: str):
        super().__init__(f"{operation}: {status} {message}")
        self.status = status
        self.message = message
        self.operation = operation

    @property
    def not_found(self) -> bool:
        # `addChannel` of a missing channel is 400 "Channel not found", not 404 (FACT 49).
        return self.status == 404 or (self.status == 400 and "not found" in self.message.lower())
