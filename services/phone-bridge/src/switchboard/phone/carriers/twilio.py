"""Twilio adapter: the media websocket (:class:`TwilioMediaStream`), request signatures
(:class:`TwilioSignatures`) and call control over the REST API (:class:`TwilioCallControl`,
the official SDK pointed at ``TWILIO_API_BASE_URL``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from twilio.base.exceptions import TwilioException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from switchboard.phone.carrier import CarrierEvent, StreamClosed, TransferFailed
from switchboard.phone.carriers.twilio_codec import (
    clear_message,
    mark_message,
    media_message,
    parse_twilio,
)
from switchboard.phone.twiml import dial

__all__ = ["TwilioCallControl", "TwilioMediaStream", "TwilioSignatures"]

log = logging.getLogger(__name__)


class TwilioSignatures:
    """Checks ``X-Twilio-Signature`` (HMAC-SHA1 of the URL plus sorted POST parameters, keyed by
    the auth token) with the SDK's ``RequestValidator``."""

    def __init__(self, auth_token: str) -> None:
        self.validator = RequestValidator(auth_token)

    def valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        if not signature:
            return False
        return bool(self.validator.validate(url, dict(params), signature))


class TwilioMediaStream:
    """A call's Media Streams websocket (already accepted)."""

    def __init__(self, websocket: WebSocket) -> None:
        self.ws = websocket
        self.stream_sid = ""
        self._closed = False

    async def receive(self) -> CarrierEvent:
        try:
            message = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError) as exc:
            raise StreamClosed("carrier disconnected") from exc
        if message["type"] == "websocket.disconnect":
            raise StreamClosed(f"carrier closed ({message.get('code')})")
        raw = message.get("text")
        if raw is None:
            raw = message.get("bytes") or b""
        event = parse_twilio(raw)
        start_sid = getattr(event, "stream_id", None)
        if start_sid:
            self.stream_sid = start_sid
        return event

    async def _send(self, text: str) -> None:
        if self._closed:
            raise StreamClosed("stream closed")
        try:
            await self.ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise StreamClosed("carrier disconnected") from exc

    async def send_audio(self, payload_b64: str) -> None:
        await self._send(media_message(self.stream_sid, payload_b64))

    async def send_mark(self, name: str) -> None:
        await self._send(mark_message(self.stream_sid, name))

    async def clear(self) -> None:
        await self._send(clear_message(self.stream_sid))

    async def close(self, code: int = 1000) -> None:
        if self._closed:
            return
        self._closed = True
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.close(code)


class TwilioCallControl:
    """``Calls(sid).update(twiml=...)`` through the official SDK (sync, run in a thread)."""

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str) -> None:
        self.client = Client(account_sid, auth_token)
        # every Voice call-control request goes to the API domain; tests point it at a stand-in
        self.client.api.base_url = base_url

    async def transfer(self, call_id: str, target: str, *, announcement: str | None) -> None:
        twiml = dial(target, announcement=announcement)

        def update() -> None:
            self.client.calls(call_id).update(twiml=twiml)

        try:
            await asyncio.to_thread(update)
        except TwilioException as exc:
            raise TransferFailed(f"Twilio refused the call update: {exc}") from exc
        except OSError as exc:
            raise TransferFailed(f"cannot reach the Twilio API: {exc}") from exc
