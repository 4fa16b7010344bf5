"""Typed protocol errors, turned into Realtime ``error`` events at one boundary (the session)."""

from __future__ import annotations

__all__ = ["ProtocolError"]


class ProtocolError(Exception):
    """A client mistake the session answers with an ``error`` event and then carries on."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid_value",
        param: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type

    def as_error(self, event_id: str | None) -> dict[str, object]:
        """The ``error`` object of an error event (``event_id`` = the client event's id)."""
        error: dict[str, object] = {"type": self.type, "code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if event_id is not None:
            error["event_id"] = event_id
        return error
