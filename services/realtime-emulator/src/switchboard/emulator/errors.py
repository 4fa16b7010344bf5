"""The emulator's protocol errors are the shared :class:`~switchboard.contracts.errors.
RealtimeError`, turned into Realtime ``error`` events at one boundary (the session).
``ProtocolError`` is its name in the emulator's session modules."""

from __future__ import annotations

from switchboard.contracts.errors import RealtimeError

__all__ = ["ProtocolError"]

#: A client mistake the session answers with an ``error`` event and then carries on.
ProtocolError = RealtimeError
