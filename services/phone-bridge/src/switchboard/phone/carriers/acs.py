"""Azure Communication Services adapter: the bidirectional media websocket
(:class:`AcsMediaStream`), the JWT Call Automation puts on its callbacks and websocket
connections (:class:`AcsTokens`), and call control over the Call Automation REST API
(:class:`AcsCallControl`, the official ``azure-communication-callautomation`` SDK pointed at the
connection string's endpoint).

ACS has no playback marks: it plays the ``AudioData`` it receives in real time, in order, and
``StopAudio`` drops what is still queued. The stream therefore keeps a playback clock (audio
queued ends at ``max(now, end) + duration``) and reports a mark as played when the clock has
passed it, so the carrier-neutral call logic stays the same; what was heard at a barge-in is
an estimate to the mark interval, from when the audio reached ACS, not a report from ACS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

import jwt
from azure.communication.callautomation import (
    AudioFormat,
    CallAutomationClient,
    MediaStreamingAudioChannelType,
    MediaStreamingContentType,
    MediaStreamingOptions,
    PhoneNumberIdentifier,
    StreamingTransportType,
    TextSource,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import AzureError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from switchboard.phone.carrier import (
    CarrierEvent,
    MarkPlayed,
    StreamClosed,
    TransferFailed,
)
from switchboard.phone.carriers.acs_codec import audio_message, parse_acs, stop_audio_message

__all__ = [
    "ACS_ISSUER",
    "GREETING_CONTEXT",
    "AcsCallControl",
    "AcsError",
    "AcsMediaStream",
    "AcsTokens",
    "parse_connection_string",
]

log = logging.getLogger(__name__)

#: The operationContext of the greeting's play (its PlayCompleted / PlayFailed say it)
GREETING_CONTEXT = "switchboard-greeting"
#: The issuer of Call Automation's JWTs (callbacks and websocket connections).
ACS_ISSUER = "https://acscallautomation.communication.azure.com"
_WAKE = object()


class AcsError(RuntimeError):
    """The Call Automation API refused a request or could not be reached."""


def parse_connection_string(value: str) -> tuple[str, str]:
    """``endpoint=https://x.communication.azure.com/;accesskey=KEY`` -> (endpoint, key).
    The endpoint keeps its scheme (the SDK's own parser forces https, which a local stand-in
    does not speak)."""
    parts = dict(
        (k.strip().lower(), v.strip())
        for k, _, v in (item.partition("=") for item in value.split(";") if item)
    )
    endpoint, key = parts.get("endpoint", "").rstrip("/"), parts.get("accesskey", "")
    if not endpoint.startswith(("https://", "http://")) or not key:
        raise ValueError("an ACS connection string is endpoint=https://...;accesskey=...")
    return endpoint, key


class AcsTokens:
    """Checks the RS256 JWT Call Automation sends as ``Authorization: Bearer ...``: signed by
    a key of the JWKS at *jwks_url*, issued by :data:`ACS_ISSUER`, for *audience* (the ACS
    resource's immutable id), not expired."""

    def __init__(self, jwks_url: str, audience: str, *, issuer: str = ACS_ISSUER) -> None:
        self.audience = audience
        self.issuer = issuer
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5)

    async def check(self, authorization: str | None) -> dict[str, Any] | None:
        """The token's claims, or None when it is missing or does not verify."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            key = await asyncio.to_thread(self.jwks.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            log.warning("ACS token refused", extra={"reason": str(exc)[:200]})
            return None
        return claims


class AcsMediaStream:
    """A call's ACS media websocket (already accepted), with a playback clock for marks."""

    def __init__(
        self,
        websocket: WebSocket,
        *,
        call_id: str,
        parameters: dict[str, str],
        bytes_per_ms: int = 48,
    ) -> None:
        self.ws = websocket
        self.call_id = call_id
        self.parameters = parameters
        self.bytes_per_ms = bytes_per_ms
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._marks: deque[tuple[float, str]] = deque()  # (due on the loop clock, name)
        self._play_end = 0.0
        self._closed = False

    async def _read(self) -> None:
        while True:
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                await self._inbox.put(None)
                return
            if message["type"] == "websocket.disconnect":
                await self._inbox.put(None)
                return
            await self._inbox.put(message.get("text") or message.get("bytes") or b"")

    async def receive(self) -> CarrierEvent:
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="acs-media-reader")
        loop = asyncio.get_running_loop()
        while True:
            if self._marks and self._marks[0][0] <= loop.time():
                return MarkPlayed(self._marks.popleft()[1])
            wait = self._marks[0][0] - loop.time() if self._marks else None
            try:
                item = await asyncio.wait_for(self._inbox.get(), wait)
            except TimeoutError:
                continue
            if item is _WAKE:
                continue
            if item is None:
                self._inbox.put_nowait(None)  # every later receive sees the end too
                raise StreamClosed("carrier disconnected")
            return parse_acs(item, call_id=self.call_id, parameters=self.parameters)

    async def _send(self, text: str) -> None:
        if self._closed:
            raise StreamClosed("stream closed")
        try:
            await self.ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise StreamClosed("carrier disconnected") from exc

    async def send_audio(self, payload_b64: str) -> None:
        await self._send(audio_message(payload_b64))
        now = asyncio.get_running_loop().time()
        size = len(payload_b64) * 3 // 4 - payload_b64[-2:].count("=")
        self._play_end = max(now, self._play_end) + size / self.bytes_per_ms / 1000

    async def send_mark(self, name: str) -> None:
        if self._closed:
            raise StreamClosed("stream closed")
        due = max(asyncio.get_running_loop().time(), self._play_end)
        self._marks.append((due, name))
        if len(self._marks) == 1:
            self._inbox.put_nowait(_WAKE)  # a receive waiting without a deadline gets one

    async def clear(self) -> None:
        self._marks.clear()  # dropped, not played: never reported
        self._play_end = 0.0
        await self._send(stop_audio_message())

    async def close(self, code: int = 1000) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.close(code)


class AcsCallControl:
    """Call Automation REST calls through the official SDK (sync, run in a thread)."""

    def __init__(self, connection_string: str) -> None:
        # azure-core logs every request and response at INFO: one line per REST call is the
        # bridge's own log, not the SDK's
        logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(
            logging.WARNING
        )
        endpoint, key = parse_connection_string(connection_string)
        self.endpoint = endpoint
        self.client = CallAutomationClient(endpoint, AzureKeyCredential(key))

    async def _run(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except AzureError as exc:
            raise AcsError(f"Call Automation refused {what}: {exc}") from exc

    async def answer(
        self,
        incoming_call_context: str,
        *,
        callback_url: str,
        transport_url: str,
        cognitive_services_endpoint: str | None,
    ) -> str:
        """Answer with bidirectional PCM 24 kHz mono streaming (unmixed, DTMF tones on) to
        *transport_url*, not started yet: the bridge starts it once the call is connected.
        Answers the call connection id."""
        streaming = MediaStreamingOptions(
            transport_url=transport_url,
            transport_type=StreamingTransportType.WEBSOCKET,
            content_type=MediaStreamingContentType.AUDIO,
            audio_channel_type=MediaStreamingAudioChannelType.UNMIXED,
            start_media_streaming=False,
            enable_bidirectional=True,
            audio_format=AudioFormat.PCM24_K_MONO,
            enable_dtmf_tones=True,
        )
        result = await self._run(
            "the answer",
            self.client.answer_call,
            incoming_call_context,
            callback_url,
            cognitive_services_endpoint=cognitive_services_endpoint or None,
            media_streaming=streaming,
            operation_context="switchboard-answer",
        )
        return str(result.call_connection_id)

    async def redirect(self, incoming_call_context: str, target: str) -> None:
        await self._run(
            "the redirect",
            self.client.redirect_call,
            incoming_call_context,
            PhoneNumberIdentifier(target),
        )

    async def reject(self, incoming_call_context: str) -> None:
        await self._run(
            "the reject", self.client.reject_call, incoming_call_context, call_reject_reason="none"
        )

    async def start_streaming(self, call_id: str) -> None:
        connection = self.client.get_call_connection(call_id)
        await self._run(
            "the media streaming start",
            connection.start_media_streaming,
            operation_context="switchboard-stream",
        )

    async def play_greeting(self, call_id: str, text: str, *, voice: str) -> None:
        """Say *text* to the call with Azure's text to speech (*voice*; it needs the Azure AI
        services resource given on the answer); ``PlayCompleted`` or ``PlayFailed`` follows,
        with :data:`GREETING_CONTEXT`."""
        connection = self.client.get_call_connection(call_id)
        await self._run(
            "the greeting",
            connection.play_media,
            TextSource(text=text, voice_name=voice),
            operation_context=GREETING_CONTEXT,
        )

    async def hang_up(self, call_id: str) -> None:
        connection = self.client.get_call_connection(call_id)
        await self._run("the hang-up", connection.hang_up, True)

    async def transfer(self, call_id: str, target: str, *, announcement: str | None) -> None:
        """``transferToParticipant`` to an E.164 number (ACS transfers to phone numbers and
        ACS/Teams identities, not to arbitrary SIP URIs)."""
        if not target.startswith("+"):
            raise TransferFailed(f"ACS transfers to E.164 numbers only, not {target!r}")
        connection = self.client.get_call_connection(call_id)
        try:
            await self._run(
                "the transfer",
                connection.transfer_call_to_participant,
                PhoneNumberIdentifier(target),
                operation_context="switchboard-transfer",
            )
        except AcsError as exc:
            raise TransferFailed(str(exc)) from exc
