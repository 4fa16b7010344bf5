"""A call's gateway conversation, kept across a lost socket.

When the bridge's websocket to the gateway drops without a close frame (seen as 1006) or the
gateway closes it with 1012 (drained: the conversation is handed over), the carrier call is
held and the conversation resumed: a resume secret for the Switchboard session id (from
``session.created``) is minted with the server key, a new socket opened (display events on,
the same ``session.update`` for the carrier's format), and the call goes on on it. Tries back
off from 0.2 s to 1 s for at most ``PHONE_RESUME_WITHIN_S``; a refusal no retry can change
(403, 404, 410, ``session_ended``) stops at once; a call resumes at most
``PHONE_RESUME_ATTEMPTS`` times. Meanwhile nothing is sent either way: the caller hears nothing
new, and what the caller says in the gap is dropped (counted, not buffered)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from switchboard.phone.gateway import GatewayError, GatewayLink
from switchboard.phone.metrics import PhoneMetrics
from switchboard.phone.settings import PhoneSettings

__all__ = ["RESUME_CLOSE_CODES", "Upstream", "lost_code", "resume_refusal"]

log = logging.getLogger(__name__)

#: Close codes after which a call resumes (1006: lost without a close frame; 1012: the gateway
#: handed the conversation over).
RESUME_CLOSE_CODES = frozenset({1006, 1012})
_FIRST_DELAY_S = 0.2
_MAX_DELAY_S = 1.0


def lost_code(ws: ClientConnection) -> int:
    """The close code of *ws* as the bridge saw it: 1006 when no close frame came."""
    if ws.protocol.close_rcvd is None:
        return 1006
    return ws.close_code if ws.close_code is not None else 1005


def resume_refusal(
    code: int, *, session_id: str | None, resumes: int, settings: PhoneSettings
) -> str | None:
    """Why a conversation closed with *code* is not resumed (a ``resumes`` metric outcome, or
    ``""`` for a close that asks for no resume); None: resume it."""
    if code not in RESUME_CLOSE_CODES:
        return ""
    if settings.resume_attempts == 0 or settings.resume_within_s == 0:
        return "off"
    if session_id is None:
        return "no_session"
    if resumes >= settings.resume_attempts:
        return "exhausted"
    return None


class Upstream:
    """The call's current gateway socket; replaced by :meth:`resume`."""

    def __init__(
        self,
        ws: ClientConnection,
        *,
        link: GatewayLink,
        customer_id: str,
        audio_format: str,
        settings: PhoneSettings,
        metrics: PhoneMetrics,
    ) -> None:
        self.ws = ws
        self.link = link
        self.customer_id = customer_id
        self.audio_format = audio_format
        self.settings = settings
        self.metrics = metrics
        #: the Switchboard session id (``session.created``'s ``session.id``): what a resume names
        self.session_id: str | None = None
        self.resumes = 0
        self.resuming = False
        #: the last loss asked for a resume and it failed (or was not allowed)
        self.gave_up = False

    def note(self, data: dict[str, Any]) -> None:
        """Keep the session id from a ``session.created``."""
        session = data.get("session") or {}
        if isinstance(session, dict) and isinstance(session.get("id"), str):
            self.session_id = session["id"]

    async def send(self, text: str) -> bool:
        """Send on the current socket; False when it is gone (lost or resuming): dropped."""
        if self.resuming:
            return False
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            return False
        return True

    async def resume(self) -> bool:
        """After the current socket closed: True once the conversation is open again on a new
        one; False when the close asks for no resume or resuming failed (the call ends)."""
        code = lost_code(self.ws)
        why = resume_refusal(
            code, session_id=self.session_id, resumes=self.resumes, settings=self.settings
        )
        if why is not None:
            if why:
                self.gave_up = True
                self.metrics.resumes.labels(why).inc()
                log.warning("gateway conversation lost; not resumed", extra={"why": why})
            return False
        log.info("gateway conversation lost; resuming", extra={"code": code})
        loop = asyncio.get_running_loop()
        began = loop.time()
        self.resuming = True
        try:
            ws, outcome = await self._reconnect(give_up_at=began + self.settings.resume_within_s)
        finally:
            self.resuming = False
        self.metrics.resumes.labels(outcome).inc()
        if ws is None:
            self.gave_up = True
            log.error("gateway conversation not resumed", extra={"outcome": outcome})
            return False
        self.ws = ws
        self.resumes += 1
        self.metrics.resume_seconds.observe(loop.time() - began)
        log.info(
            "gateway conversation resumed",
            extra={"resumes": self.resumes, "gap_ms": round((loop.time() - began) * 1000)},
        )
        return True

    async def _reconnect(self, *, give_up_at: float) -> tuple[ClientConnection | None, str]:
        assert self.session_id is not None
        loop = asyncio.get_running_loop()
        delay, tries = _FIRST_DELAY_S, 0
        while True:
            tries += 1
            remaining = give_up_at - loop.time()
            try:
                async with asyncio.timeout(max(0.01, remaining)):
                    ws = await self.link.open(
                        self.customer_id,
                        audio_format=self.audio_format,
                        resume_session_id=self.session_id,
                    )
                return ws, "resumed"
            except GatewayError as exc:
                log.warning("resume try failed", extra={"try": tries, "error": str(exc)[:200]})
                if exc.permanent:
                    return None, "refused"
            except TimeoutError:
                log.warning("resume try timed out", extra={"try": tries})
            if loop.time() + delay > give_up_at:
                return None, "timed_out"
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY_S)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
