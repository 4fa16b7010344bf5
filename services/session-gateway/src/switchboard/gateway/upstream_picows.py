"""The upstream websocket on picows (``UPSTREAM_WS_CLIENT=picows``): the same
:class:`~switchboard.gateway.upstream.Upstream` interface on a Cython client that hands each
frame to a callback, for less CPU per relayed message than the ``websockets`` client.

Frames are kept as text in a queue read by :meth:`PicowsUpstream.recv_text`; a closed
connection raises ``websockets``' ``ConnectionClosed`` (with the close frames seen), which is
what the link and the pumps expect from either client.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

import orjson
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from switchboard.gateway.dialect import GaDialect, UpstreamDialect
from switchboard.gateway.upstream import Upstream

__all__ = ["PicowsUpstream", "connect_picows"]

_TEXT, _BINARY, _CONTINUATION, _CLOSE = (
    WSMsgType.TEXT,
    WSMsgType.BINARY,
    WSMsgType.CONTINUATION,
    WSMsgType.CLOSE,
)
_NORMAL_CLOSES = frozenset({1000, 1001})


class _Listener(WSListener):
    """Collects a connection's messages as text, its close frames and its write pauses."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: deque[str] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.parts: list[bytes] | None = None
        self.rcvd: Close | None = None
        self.sent: Close | None = None
        self.rcvd_then_sent: bool | None = None
        self.paused = False
        self.disconnected = False

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind in (_TEXT, _BINARY):
            if frame.fin:
                self.texts.append(frame.get_payload_as_utf8_text())
                self._wake()
            else:
                self.parts = [frame.get_payload_as_bytes()]
        elif kind == _CONTINUATION and self.parts is not None:
            self.parts.append(frame.get_payload_as_bytes())
            if frame.fin:
                self.texts.append(b"".join(self.parts).decode())
                self.parts = None
                self._wake()
        elif kind == _CLOSE:
            payload = frame.get_payload_as_bytes()
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.rcvd = Close(code, payload[2:].decode(errors="replace"))
            if self.sent is None and not transport.is_close_frame_sent:
                self.sent = Close(1000, "")
                self.rcvd_then_sent = True
                transport.send_close(WSCloseCode.OK)
            elif self.sent is not None:
                self.rcvd_then_sent = False
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.disconnected = True
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        drained = self.drained
        if drained is not None and not drained.done():
            drained.set_result(None)


async def connect_picows(
    url: str,
    *,
    headers: dict[str, str],
    dialect: UpstreamDialect,
    open_timeout_s: float,
    max_size: int,
) -> PicowsUpstream:
    """Open *url* with picows (TLS for ``wss://`` with the default SSL context)."""
    transport, listener = await asyncio.wait_for(
        ws_connect(
            _Listener,
            url,
            extra_headers=headers,
            websocket_handshake_timeout=open_timeout_s,
            enable_auto_ping=True,
            auto_ping_idle_timeout=20,
            auto_ping_reply_timeout=20,
            max_frame_size=max_size,
        ),
        open_timeout_s,
    )
    assert isinstance(listener, _Listener)
    return PicowsUpstream(transport, listener, dialect)


class PicowsUpstream(Upstream):
    """One upstream websocket on picows: GA events in and out, translated by the dialect."""

    def __init__(self, transport: WSTransport, listener: _Listener, dialect: UpstreamDialect):
        self.transport = transport
        self.listener = listener
        self.dialect = dialect
        self.passthrough = isinstance(dialect, GaDialect)

    def _closed(self) -> ConnectionClosed:
        listener = self.listener
        rcvd, sent, order = listener.rcvd, listener.sent, listener.rcvd_then_sent
        if order is None or rcvd is None or sent is None:  # not both close frames
            return ConnectionClosedError(rcvd, None if rcvd is not None else sent)
        if rcvd.code in _NORMAL_CLOSES and sent.code in _NORMAL_CLOSES:
            return ConnectionClosedOK(rcvd, sent, order)
        return ConnectionClosedError(rcvd, sent, order)

    async def _send(self, text: str) -> None:
        listener = self.listener
        while not self.send_now(text):
            if listener.disconnected or self.transport.is_close_frame_sent:
                raise self._closed()
            listener.drained = asyncio.get_running_loop().create_future()
            await listener.drained

    async def send(self, event: dict[str, Any]) -> None:
        await self._send(json.dumps(self.dialect.client_event(event)))

    async def send_raw(self, raw: str, event: dict[str, Any]) -> None:
        if self.passthrough or event.get("type") == "input_audio_buffer.append":
            await self._send(raw)
        else:
            await self.send(event)

    def send_now(self, text: str) -> bool:
        """Send *text* as one frame at once; False when the connection is closing or closed or
        its write buffer is full (then :meth:`send_raw` waits or raises ``ConnectionClosed``)."""
        listener = self.listener
        if listener.paused or listener.disconnected or self.transport.is_close_frame_sent:
            return False
        self.transport.send(_TEXT, text.encode())
        return True

    async def recv_text(self) -> str:
        listener = self.listener
        texts = listener.texts
        while not texts:
            if listener.disconnected:
                raise self._closed()
            listener.waiter = asyncio.get_running_loop().create_future()
            await listener.waiter
        return texts.popleft()

    async def recv(self) -> list[tuple[dict[str, Any], str | None]]:
        raw = await self.recv_text()
        event = orjson.loads(raw)
        if not isinstance(event, dict):
            return []
        if self.passthrough:
            return [(event, raw)]
        return [(e, None) for e in self.dialect.server_events(event)]

    async def close(self) -> None:
        transport, listener = self.transport, self.listener
        if listener.disconnected:
            return
        if not transport.is_close_frame_sent:
            listener.sent = Close(1000, "")
            transport.send_close(WSCloseCode.OK)
        try:
            await asyncio.wait_for(transport.wait_disconnected(), 2)
        except Exception:
            transport.disconnect(graceful=False)
