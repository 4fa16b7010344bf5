"""The Realtime protocol's error for a refused client event: one type for the gateway and the
emulator alike. The session that raised it answers with an ``error`` server event and goes on.

The ``error`` object keeps the cloud's key order (``type``, ``code``, ``message``, ``param``,
``event_id``), with ``param`` and ``event_id`` only when known.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RealtimeError"]


class RealtimeError(Exception):
    """A client event refused with *code* (``invalid_value``, ``unknown_parameter``...), naming
    the offending *param* when there is one; *type* is the error class on the wire
    (``invalid_request_error`` for client mistakes). *event_id* is the refused event's id, when
    it was read before the refusal."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid_value",
        param: str | None = None,
        type: str = "invalid_request_error",
        event_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.event_id = event_id

    def with_event_id(self, event_id: str | None) -> RealtimeError:
        """The same refusal, naming the refused event *event_id*."""
        return RealtimeError(
            self.message, code=self.code, param=self.param, type=self.type, event_id=event_id
        )

    def as_error(self, event_id: str | None = None) -> dict[str, Any]:
        """The ``error`` object of the error event (*event_id*, else the one known, is the client
        event's id)."""
        error: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        client_event_id = event_id if event_id is not None else self.event_id
        if client_event_id is not None:
            error["event_id"] = client_event_id
        return error

    def __repr__(self) -> str:
        return f"RealtimeError({self.message!r}, code={self.code!r}, param={self.param!r})"
