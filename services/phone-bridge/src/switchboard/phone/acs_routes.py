"""The Azure Communication Services side of the bridge: the Event Grid webhook, the Call
Automation callbacks, and the media websocket.

1. ``POST /acs/incoming?secret=...``: Event Grid delivers ``IncomingCall`` (and, once, the
   subscription validation handshake). The shared secret in the subscription's URL is checked.
   Every call is answered, unverified, with bidirectional PCM 24 kHz media streaming (started
   once connected) and a callback URL carrying a signed :class:`CallContext` (correlation id,
   caller, and the customer caller ID names, or the guest for a number on no account).
2. ``POST /acs/callbacks?ctx=...`` (JWT of Call Automation checked): ``CallConnected`` plays
   the greeting (``PHONE_GREETING``, Azure text to speech: only when an Azure AI services
   endpoint is connected) and media streaming starts once it has played (``PlayCompleted`` or
   ``PlayFailed``, or ``ACS_GREETING_TIMEOUT_S`` at the latest), or at once without a
   greeting; other events are logged.
3. ``/acs/media?ctx=...`` (JWT checked on the handshake): the call's conversation, run by the
   carrier-neutral :class:`~switchboard.phone.call.PhoneCall`, bound (unverified) to the
   context's customer. The caller proves who they are in the conversation, with the
   ``verify_caller`` tool on the workers (spoken or keypad postal code, as ``DtmfData``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from switchboard.phone.call import CallDeps, PhoneCall
from switchboard.phone.carriers.acs import (
    GREETING_CONTEXT,
    AcsCallControl,
    AcsError,
    AcsMediaStream,
    AcsTokens,
)
from switchboard.phone.carriers.acs_codec import (
    CallbackEvent,
    IncomingCall,
    parse_callbacks,
    parse_event_grid,
)
from switchboard.phone.identity import (
    BindingError,
    CallContext,
    binding_token,
    normalise_e164,
    open_call_context,
    seal_call_context,
)

if TYPE_CHECKING:
    from switchboard.phone.app import Bridge

__all__ = ["AcsCarrier", "add_acs_routes"]

log = logging.getLogger(__name__)


#: Call Automation events that end a play (its operationContext says which)
_PLAY_ENDED = frozenset({"PlayCompleted", "PlayFailed", "PlayCanceled"})


def _result(event: CallbackEvent) -> dict[str, object]:
    info = event.data.get("resultInformation")
    return {"result": info} if isinstance(info, dict) else {}


def _forbidden(code: str, message: str, status: int = 403) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


class AcsCarrier:
    """The ACS clients of one bridge process (Call Automation REST, JWT keys)."""

    def __init__(self, bridge: Bridge) -> None:
        settings = bridge.settings
        self.bridge = bridge
        self.settings = settings
        self.control = AcsCallControl(settings.acs_connection_string.get_secret_value())
        self.tokens = AcsTokens(settings.acs_jwks_url, settings.acs_resource_id)
        self.deps: CallDeps = replace(bridge.deps, control=self.control)
        self.key = settings.binding_key
        #: calls whose greeting is playing: the task that starts their stream at the latest
        self._greeting: dict[str, asyncio.Task[None]] = {}

    # -- Event Grid ----------------------------------------------------------------------------
    async def incoming(self, call: IncomingCall, request: Request) -> None:
        settings, metrics = self.settings, self.bridge.metrics
        number = normalise_e164(call.caller, default_country_code=settings.default_country_code)
        identity = await self.bridge.directory.identify(number)
        extra = {"correlation_id": call.correlation_id, "known_number": identity.known}
        # every call is answered, unverified: to the customer caller ID names, or to the guest
        metrics.callers.labels("known" if identity.known else "unknown").inc()
        ctx = seal_call_context(
            self.key,
            CallContext(
                correlation_id=call.correlation_id,
                caller=number or call.caller,
                customer_id=identity.customer_id,
                expires_at=int(time.time()) + settings.binding_ttl_s,
            ),
        )
        callback = self.bridge.public(f"{request.url_for('acs_callbacks')}?ctx={ctx}")
        media = self.bridge.public(f"{request.url_for('acs_media')}?ctx={ctx}")
        media = media.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        call_id = await self.control.answer(
            call.incoming_call_context,
            callback_url=callback,
            transport_url=media,
            cognitive_services_endpoint=settings.acs_cognitive_services_endpoint,
        )
        log.info("ACS call answered", extra={**extra, "call_connection_id": call_id})

    # -- Call Automation callbacks -------------------------------------------------------------
    async def callback(self, event: CallbackEvent, ctx: CallContext) -> None:
        call_id = event.call_connection_id
        extra = {"call_connection_id": call_id, "event": event.type}
        if event.type == "CallConnected":
            if await self._greet(call_id):
                log.info("ACS call connected; greeting the caller", extra=extra)
                return
            log.info("ACS call connected; starting the media stream", extra=extra)
            await self.control.start_streaming(call_id)
            return
        log.info("ACS call event", extra={**extra, "context": event.operation_context})
        greeted = event.operation_context == GREETING_CONTEXT and event.type in _PLAY_ENDED
        if greeted or event.type == "CallDisconnected":
            pending = self._greeting.pop(call_id, None)
            if pending is not None:
                pending.cancel()
                if greeted:
                    if event.type != "PlayCompleted":
                        log.warning("ACS greeting not played", extra={**extra, **_result(event)})
                    await self.control.start_streaming(call_id)

    async def _greet(self, call_id: str) -> bool:
        """Play the greeting, if there is one and ACS can speak it; True when it plays (the
        stream starts when it has, or after the timeout)."""
        settings = self.settings
        if not settings.greeting or not settings.acs_cognitive_services_endpoint:
            return False
        try:
            await self.control.play_greeting(
                call_id, settings.greeting, voice=settings.acs_greeting_voice
            )
        except AcsError as exc:
            log.warning(
                "ACS greeting refused",
                extra={"call_connection_id": call_id, "error": str(exc)[:300]},
            )
            return False
        self._greeting[call_id] = asyncio.create_task(
            self._stream_after(call_id, settings.acs_greeting_timeout_s),
            name=f"acs-greeting-{call_id}",
        )
        return True

    async def _stream_after(self, call_id: str, delay_s: float) -> None:
        """The greeting's end never came: start the stream anyway."""
        await asyncio.sleep(delay_s)
        if self._greeting.pop(call_id, None) is not None:
            log.warning("ACS greeting did not end in time", extra={"call_connection_id": call_id})
            try:
                await self.control.start_streaming(call_id)
            except AcsError as exc:
                log.error("ACS media stream not started", extra={"error": str(exc)[:300]})

    async def close(self) -> None:
        """Forget greetings still playing (the bridge is stopping)."""
        for task in self._greeting.values():
            task.cancel()
        self._greeting.clear()

    def context(self, token: str, correlation_id: str | None) -> CallContext | None:
        try:
            ctx = open_call_context(self.key, token)
        except BindingError:
            return None
        if correlation_id and not hmac.compare_digest(correlation_id, ctx.correlation_id):
            return None
        return ctx


def add_acs_routes(app: FastAPI) -> None:
    """Mount the ``/acs/`` routes (the bridge's :class:`AcsCarrier` is ``bridge.acs``)."""

    def carrier(bridge: Bridge) -> AcsCarrier:
        assert bridge.acs is not None
        return bridge.acs

    @app.post("/acs/incoming", name="acs_incoming")
    async def acs_incoming(request: Request) -> Response:
        bridge: Bridge = request.app.state.bridge
        acs = carrier(bridge)
        secret = request.query_params.get("secret", "")
        expected = acs.settings.acs_eventgrid_secret.get_secret_value()
        if not hmac.compare_digest(secret.encode(), expected.encode()):
            bridge.metrics.webhooks.labels("acs_incoming", "bad_secret").inc()
            log.warning("Event Grid delivery refused: bad secret")
            return _forbidden("invalid_secret", "The webhook secret does not match.")
        try:
            validation, calls = parse_event_grid(await request.body())
        except ValueError as exc:
            bridge.metrics.webhooks.labels("acs_incoming", "malformed").inc()
            return _forbidden("invalid_event", str(exc), 400)
        bridge.metrics.webhooks.labels("acs_incoming", "ok").inc()
        if validation is not None:
            log.info("Event Grid subscription validated")
            return JSONResponse({"validationResponse": validation})
        if calls and bridge.draining:
            return bridge.refuse_new_call("acs_incoming")  # Event Grid delivers it again
        for call in calls:
            try:
                await acs.incoming(call, request)
            except AcsError as exc:
                log.error("ACS incoming call not handled", extra={"error": str(exc)[:300]})
                return _forbidden("carrier_error", "Call Automation refused the call.", 502)
        return Response(status_code=200)

    @app.post("/acs/callbacks", name="acs_callbacks")
    async def acs_callbacks(request: Request) -> Response:
        bridge: Bridge = request.app.state.bridge
        acs = carrier(bridge)
        if await acs.tokens.check(request.headers.get("authorization")) is None:
            bridge.metrics.webhooks.labels("acs_callback", "bad_token").inc()
            return _forbidden("invalid_token", "A Call Automation JWT is required.", 401)
        try:
            events = parse_callbacks(await request.body())
        except ValueError as exc:
            bridge.metrics.webhooks.labels("acs_callback", "malformed").inc()
            return _forbidden("invalid_event", str(exc), 400)
        for event in events:
            ctx = acs.context(request.query_params.get("ctx", ""), event.correlation_id)
            if ctx is None:
                bridge.metrics.webhooks.labels("acs_callback", "bad_context").inc()
                return _forbidden("invalid_context", "The callback's call context is not ours.")
            try:
                await acs.callback(event, ctx)
            except AcsError as exc:
                log.error("ACS callback not handled", extra={"error": str(exc)[:300]})
        bridge.metrics.webhooks.labels("acs_callback", "ok").inc()
        return Response(status_code=200)

    @app.websocket("/acs/media", name="acs_media")
    async def acs_media(websocket: WebSocket) -> None:
        bridge: Bridge = websocket.app.state.bridge
        acs = carrier(bridge)
        headers = websocket.headers
        if await acs.tokens.check(headers.get("authorization")) is None:
            bridge.metrics.webhooks.labels("acs_media", "bad_token").inc()
            await websocket.close(code=1008)
            return
        ctx = acs.context(
            websocket.query_params.get("ctx", ""), headers.get("x-ms-call-correlation-id")
        )
        if ctx is None or ctx.expires_at < time.time():
            bridge.metrics.webhooks.labels("acs_media", "bad_context").inc()
            await websocket.close(code=1008)
            return
        if len(bridge.calls) >= acs.settings.max_calls:
            bridge.metrics.webhooks.labels("acs_media", "over_capacity").inc()
            await websocket.close(code=1013)
            return
        bridge.metrics.webhooks.labels("acs_media", "ok").inc()
        await websocket.accept()
        call_id = headers.get("x-ms-call-connection-id") or ctx.correlation_id
        binding = binding_token(
            acs.key, call_id=call_id, customer_id=ctx.customer_id, expires_at=ctx.expires_at
        )
        stream = AcsMediaStream(websocket, call_id=call_id, parameters={"binding": binding})
        task = asyncio.current_task()
        assert task is not None
        bridge.calls.add(task)
        try:
            await PhoneCall(stream, acs.deps).run()
        finally:
            bridge.calls.discard(task)
