"""Typed failures of a session and how each one looks on the wire: an ``error`` event for the
client (GA shape) and, for those that end the session, a websocket close code. A refused client
event is the shared :class:`~switchboard.contracts.errors.RealtimeError`."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import ValidationError

from switchboard.redaction import EVERY_KIND

__all__ = ["CloseCode", "SessionEnd", "error_event", "loggable_error"]


class CloseCode(enum.IntEnum):
    """Websocket close codes the gateway uses (4000-4999 are application codes)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # gateway shutting down
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012  # drain: the conversation is handed over; resume it elsewhere
    TRY_AGAIN_LATER = 1013  # upstream unavailable
    IDLE_TIMEOUT = 4000
    MAX_DURATION = 4001
    ENDED_BY_ADMIN = 4002
    TOO_MANY_SESSIONS = 4003
    AUDIO_RATE_EXCEEDED = 4004
    TAKEN_OVER = 4005  # the conversation was resumed on another connection


class SessionEnd(Exception):
    """Ends the session: *reason* goes to the audit trail, *code* closes the client socket, and
    when *error_code* is set the client first gets an ``error`` event saying why."""

    def __init__(
        self,
        reason: str,
        code: CloseCode = CloseCode.NORMAL,
        *,
        error_code: str | None = None,
        message: str | None = None,
        close_reason: str | None = None,
    ) -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.code = code
        self.error_code = error_code
        self.message = message or reason
        #: the close frame's reason text (default: *reason*)
        self.close_reason = close_reason or reason


def error_event(
    event_id: str,
    message: str,
    *,
    code: str | None,
    param: str | None = None,
    client_event_id: str | None = None,
    kind: str = "invalid_request_error",
) -> dict[str, Any]:
    """A GA ``error`` server event."""
    error: dict[str, Any] = {"type": kind, "message": message}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    if client_event_id is not None:
        error["event_id"] = client_event_id
    return {"type": "error", "event_id": event_id, "error": error}


def loggable_error(exc: BaseException) -> str:
    """*exc* as a log field that carries no conversation data: a validation error names only
    its class and where it failed (pydantic quotes the input: a tool's output, say), anything
    else is its ``repr``, redacted and cut to 300 characters."""
    if isinstance(exc, ValidationError):
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:3])
        return f"{type(exc).__name__}: {exc.error_count()} error(s) at {where or 'top level'}"
    return EVERY_KIND.text(repr(exc))[:300]
