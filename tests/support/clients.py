"""A test client wrapper that validates every server event it receives against the openai SDK's
types (GA union, or the beta union for the preview dialect) and keeps them for assertions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from switchboard.contracts.realtime import validate_server_event
from switchboard.contracts.realtime_preview import validate_preview_server_event

__all__ = ["EventLog"]


class EventLog:
    """Receives events from an SDK connection or a raw websocket; every event is validated."""

    def __init__(self, connection: Any, *, dialect: str = "ga") -> None:
        self.connection = connection
        self.dialect = dialect
        self.events: list[dict[str, Any]] = []
        self.invalid: list[tuple[dict[str, Any], str]] = []

    async def send(self, event: dict[str, Any]) -> None:
        if (
            hasattr(self.connection, "send")
            and self.dialect == "ga"
            and hasattr(self.connection, "recv_bytes")
        ):
            await self.connection.send(event)
        else:
            await self.connection.send(json.dumps(event))

    async def recv(self) -> dict[str, Any]:
        if hasattr(self.connection, "recv_bytes"):
            raw = await self.connection.recv_bytes()
        else:
            raw = await self.connection.recv()
        event = json.loads(raw)
        validate = validate_server_event if self.dialect == "ga" else validate_preview_server_event
        try:
            validate(event)
        except Exception as exc:  # recorded, asserted at the end of the test
            self.invalid.append((event, str(exc)))
        self.events.append(event)
        return event

    async def until(self, kind: str, *, within_s: float = 60.0) -> dict[str, Any]:
        """Receive until an event of type *kind* arrives (returns it); a hang fails the test."""
        async with asyncio.timeout(within_s):
            while True:
                event = await self.recv()
                if event["type"] == kind:
                    return event

    async def collect_until(self, kind: str, *, within_s: float = 60.0) -> list[dict[str, Any]]:
        """Every event up to and including the first of type *kind*."""
        start = len(self.events)
        await self.until(kind, within_s=within_s)
        return self.events[start:]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    def check_all_valid(self) -> None:
        assert not self.invalid, f"server events failing SDK validation: {self.invalid[:3]}"
