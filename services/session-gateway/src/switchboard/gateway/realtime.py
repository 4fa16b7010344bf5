"""The Realtime websocket route (``/v1/realtime``): the client secret checked before the upgrade,
then one :class:`~switchboard.gateway.session.Session` over the raw ASGI websocket.

The route is a plain ASGI app rather than a framework endpoint: after the handshake (done with
Starlette's ``WebSocket``), frames go straight through the server's ASGI ``receive``/``send``.
Starlette's wrapper checks its own state machine on every message, which on the audio path cost
about as much as the gateway's own rules for a chunk; the pass-through relay of the benchmark
keeps the wrapper, so it is part of the floor the gateway is measured against.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from switchboard.contracts.display import DISPLAY_EVENTS_QUERY_PARAM
from switchboard.gateway.resume import ResumeRefused, new_holder
from switchboard.gateway.session import ClientGone, Session
from switchboard.gateway.snapshot import Snapshot, SnapshotState
from switchboard.gateway.tokens import SecretRefused

if TYPE_CHECKING:
    from switchboard.gateway.app import Gateway

__all__ = ["AsgiClient", "RealtimeRoute", "presented_secret"]

log = logging.getLogger(__name__)

_SUBPROTOCOL_KEY_PREFIX = "openai-insecure-api-key."


def presented_secret(websocket: WebSocket) -> str | None:
    """The client secret, from ``Authorization: Bearer``, ``api-key`` or the browser's
    ``openai-insecure-api-key.*`` subprotocol."""
    auth = websocket.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    if websocket.headers.get("api-key"):
        return websocket.headers["api-key"]
    for proto in websocket.scope.get("subprotocols") or []:
        if proto.startswith(_SUBPROTOCOL_KEY_PREFIX):
            return proto[len(_SUBPROTOCOL_KEY_PREFIX) :] or None
    return None


class AsgiClient:
    """The client side of a session over the ASGI websocket messages of an accepted socket.
    ASGI servers write each ``websocket.send`` message whole, so concurrent senders (the
    upstream pump, tool display events) need no lock."""

    __slots__ = ("_receive", "_send", "close_code", "closed", "received_close")

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.closed = False
        #: the client's close code once it went away (1005: none given, 1006: connection lost)
        self.close_code = 1006
        self.received_close = False

    async def receive(self) -> str | bytes:
        message = await self._receive()
        if message["type"] != "websocket.receive":  # websocket.disconnect
            self.closed = True
            self.received_close = True
            self.close_code = int(message.get("code") or 1005)
            raise ClientGone(self.close_code)
        text = message.get("text")
        if text is not None:
            return str(text)
        data = message.get("bytes")
        return bytes(data) if data is not None else b""

    async def send(self, text: str) -> None:
        if self.closed:
            raise ClientGone(self.close_code if self.received_close else None)
        try:
            await self._send({"type": "websocket.send", "text": text})
        except (OSError, RuntimeError) as exc:  # uvicorn's ClientDisconnected is an OSError
            self.closed = True
            raise ClientGone(None) from exc  # the receive side reads how it closed

    async def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            await self._send({"type": "websocket.close", "code": code, "reason": reason})


class RealtimeRoute:
    """The ASGI app of ``/v1/realtime``; the gateway comes from the app's lifespan state."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        gateway: Gateway = websocket.state.gateway

        async def deny(status: int, code: str, message: str) -> None:
            gateway.metrics.refused.labels(code).inc()
            body = {"error": {"type": "invalid_request_error", "code": code, "message": message}}
            await websocket.send_denial_response(JSONResponse(body, status_code=status))

        if gateway.draining:
            await deny(
                503, "server_shutting_down", "The server is restarting; connect again shortly."
            )
            return
        try:
            grant = await gateway.secrets.redeem(presented_secret(websocket))
        except SecretRefused as exc:
            await deny(exc.status, exc.code, exc.message)
            return
        except Exception as exc:  # Redis unreachable or saturated: say so, do not crash
            log.warning("client secret check failed", extra={"error": repr(exc)})
            await deny(503, "service_unavailable", "Try again shortly.")
            return
        holder = new_holder(gateway.settings.gateway_id)
        resume: Snapshot | None = None
        if grant.resume_session_id is not None:
            try:
                resume = await gateway.snapshots.claim(
                    grant.resume_session_id, grant.customer_id, holder
                )
            except ResumeRefused as exc:
                await deny(exc.status, exc.code, exc.message)
                return
            except Exception as exc:
                log.warning("resume claim failed", extra={"error": repr(exc)})
                await deny(503, "service_unavailable", "Try again shortly.")
                return
            if resume.state is SnapshotState.LIVE:  # a holder that may be alive: let go
                await gateway.registry.end(resume.session_id, f"takeover:{holder}")
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol="realtime" if "realtime" in offered else None)
        display = websocket.query_params.get(DISPLAY_EVENTS_QUERY_PARAM) == "1"
        session = Session(
            gateway.deps,
            client=AsgiClient(receive, send),
            customer_id=grant.customer_id,
            verification=grant.verification,
            display=display,
            resume=resume,
            holder=holder,
            recording=grant.recording,
        )
        await _serve(gateway, session)


async def _serve(gateway: Gateway, session: Session) -> Any:
    gateway.sessions[session.id] = session
    gateway.no_sessions.clear()
    try:
        return await session.run()
    finally:
        if gateway.sessions.get(session.id) is session:  # not a resumed one with the same id
            gateway.sessions.pop(session.id, None)
        if not gateway.sessions:
            gateway.no_sessions.set()
