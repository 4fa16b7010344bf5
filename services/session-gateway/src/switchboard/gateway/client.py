"""The client's side of a session: its websocket as the session sees it, how it left, and the
ids the gateway gives sessions and the events it sends."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Protocol

from switchboard.gateway.errors import SessionEnd

__all__ = ["ClientGone", "ClientSocket", "client_event_id", "how_gone", "new_session_id"]


class ClientGone(Exception):
    """The client closed its websocket (*code*: its close code, 1006 when the connection was
    lost without one; None when a send found the socket closed before its close frame was
    read)."""

    def __init__(self, code: int | None = 1000) -> None:
        super().__init__(code)
        self.code = code

    def end(self) -> SessionEnd:
        """A close with 1000 or 1001 ends the conversation; any other loss leaves it
        resumable for the resume window."""
        return SessionEnd("client_closed" if self.code in (1000, 1001) else "client_lost")


class ClientSocket(Protocol):
    """The client's websocket. ``send`` must write each message whole even when called
    concurrently (ASGI servers do), so the session sends without a lock."""

    async def receive(self) -> str | bytes: ...
    async def send(self, text: str) -> None: ...
    async def close(self, code: int, reason: str) -> None: ...


def new_session_id() -> str:
    return f"sess_gw_{uuid.uuid4().hex[:20]}"


def client_event_id() -> str:
    return f"event_gw_{uuid.uuid4().hex[:20]}"


async def how_gone(gone: ClientGone) -> SessionEnd:
    """How the client left, for a send that found its socket closed: the client pump reads
    the close frame (and ends the session with its code, cancelling this wait); without
    one within a second, the connection was lost."""
    if gone.code is None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await asyncio.Event().wait()
    return gone.end()
