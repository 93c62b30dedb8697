"""The one error of the protocol package."""

from __future__ import annotations


class ProtocolError(Exception):
    """A message that does not follow the protocol.

    On the server it becomes an `error` event for the client (`code`, `message`, `param`, and the
    `event_id` of the client event that caused it); on the client it means the peer sent something we
    cannot act on (the caller logs it and treats the message as lost, never the call).
    """

    def __init__(self, code: str, message: str, *, event_id: str | None = None, param: str | None = None,
                 error_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.event_id = event_id
        self.param = param
        self.error_type = error_type
