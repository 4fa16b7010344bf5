"""One conversation: the client websocket, the upstream websocket and everything between them.

Per session one ``asyncio.TaskGroup`` runs the client pump, the upstream pump and a watchdog
(limits, renewal, external end requests); tool calls run as tasks of the same group, so the
audio path never waits for a tool, a broker publish or a Redis call. Either side ending ends
the group; ``run()`` then closes the upstream, unregisters, publishes ``session.ended`` and
closes the client socket with a code that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed

from switchboard.contracts.display import (
    SessionInfo,
    ToolCompletedDisplay,
    ToolStartedDisplay,
)
from switchboard.contracts.events import (
    ConversationEvent,
    ErrorOccurred,
    EventPayload,
    SessionEnded,
    SessionStarted,
    ToolCalled,
    ToolCompleted,
    TurnLatency,
)
from switchboard.contracts.tools import ToolCallResult, ToolError, ToolErrorCode
from switchboard.gateway.broker import GATEWAY_WORKER, Broker, EventPublisher
from switchboard.gateway.catalog import CatalogReader
from switchboard.gateway.conversation import Conversation
from switchboard.gateway.errors import ClientEventError, CloseCode, SessionEnd, error_event
from switchboard.gateway.limits import AudioRateLimiter
from switchboard.gateway.metrics import GatewayMetrics
from switchboard.gateway.policy import (
    APPEND,
    RefusedEvent,
    SessionPolicy,
    audio_ms,
    client_view_of_session,
    inspect_client_event,
)
from switchboard.gateway.registry import SessionRegistry, TooManySessions
from switchboard.gateway.settings import GatewaySettings
from switchboard.gateway.upstream import Upstream, UpstreamConnector, UpstreamError
from switchboard.observability import bind_log_context

__all__ = ["ClientGone", "ClientSocket", "Session", "SessionDeps"]

log = logging.getLogger(__name__)

#: Prefix of the event ids the gateway itself sends upstream (errors about them stay inside).
GW_EVENT_PREFIX = "sbgw_"
_C2U = "client_to_upstream"
_U2C = "upstream_to_client"
_FUNCTION_ITEMS = ("function_call", "function_call_output")
_ECHO_KINDS = frozenset(
    {"conversation.item.added", "conversation.item.created", "conversation.item.done"}
)
#: Session fields a client may have changed, re-applied on a new upstream session.
_OVERRIDABLE_IN = ("format", "turn_detection", "noise_reduction")
_OVERRIDABLE_OUT = ("format", "voice", "speed")


class ClientGone(Exception):
    """The client closed its websocket."""


class ClientSocket(Protocol):
    async def receive(self) -> str | bytes: ...
    async def send(self, text: str) -> None: ...
    async def close(self, code: int, reason: str) -> None: ...


@dataclass
class SessionDeps:
    """What the app hands every session (owned by the lifespan)."""

    settings: GatewaySettings
    policy: SessionPolicy
    connector: UpstreamConnector
    broker: Broker
    publisher: EventPublisher
    registry: SessionRegistry
    catalog: CatalogReader
    metrics: GatewayMetrics


def new_session_id() -> str:
    return f"sess_gw_{uuid.uuid4().hex[:20]}"


class Session:
    """The relay for one client connection."""

    def __init__(
        self,
        deps: SessionDeps,
        *,
        client: ClientSocket,
        customer_id: str,
        display: bool = False,
        session_id: str | None = None,
    ) -> None:
        self.deps = deps
        self.settings = deps.settings
        self.metrics = deps.metrics
        self.client = client
        self.customer_id = customer_id
        self.display = display
        self.id = session_id or new_session_id()
        self.conversation = Conversation(audio_format=self.settings.audio_format)
        self.input_format = self.settings.audio_format
        self.upstream: Upstream | None = None
        self.tools: list[dict[str, Any]] = []
        self._seq = 0
        self._gw_events = 0
        self._send_lock = asyncio.Lock()
        self._swap_lock = asyncio.Lock()
        self._response_lock = asyncio.Lock()
        self._upstream_ready = asyncio.Event()
        self._upstream_changed = asyncio.Event()
        self._no_response = asyncio.Event()
        self._no_response.set()
        self._response_requested = False
        self._wake = asyncio.Event()
        self._end_request: SessionEnd | None = None
        self._ending = False
        self._tg: asyncio.TaskGroup | None = None
        self._calls: dict[str, list[asyncio.Task[tuple[str, ToolCallResult]]]] = {}
        self._replayed: set[str] = set()
        #: how many times the upstream session was replaced (drops and renewals)
        self.upstream_swaps = 0
        self._swapped = asyncio.Condition()
        self._overrides: dict[str, Any] = {}
        self._started = time.monotonic()
        self._upstream_opened = self._started
        self._last_activity = self._started
        self._speaking = False
        self._tools_running = 0
        self._c2u = self.metrics.relay[_C2U]
        self._u2c = self.metrics.relay[_U2C]
        self._limiter = AudioRateLimiter(
            rate=self.settings.max_audio_rate, burst_ms=self.settings.audio_burst_s * 1000
        )

    # -- public ------------------------------------------------------------------------------------
    def request_end(
        self, reason: str, code: CloseCode, *, error_code: str | None, message: str
    ) -> None:
        """Ask the session to end (admin, shutdown); safe to call from any callback."""
        if self._end_request is None:
            self._end_request = SessionEnd(reason, code, error_code=error_code, message=message)
        self._wake.set()

    async def wait_upstream_swaps(self, count: int) -> None:
        """Until the upstream session has been replaced *count* times (drops and renewals)."""
        async with self._swapped:
            await self._swapped.wait_for(lambda: self.upstream_swaps >= count)

    def on_control(self, command: str) -> None:
        if command == "end":
            self.request_end(
                "admin",
                CloseCode.ENDED_BY_ADMIN,
                error_code="session_ended",
                message="The conversation was ended by an administrator.",
            )

    async def run(self) -> str:
        """Serve the conversation; returns the reason it ended."""
        bind_log_context(session_id=self.id, customer_id=self.customer_id)
        try:
            await self.deps.registry.register(
                self.id,
                customer_id=self.customer_id,
                upstream=self.settings.upstream_kind,
                model=self.settings.upstream_model,
                max_per_customer=self.settings.max_sessions_per_customer,
                on_control=self.on_control,
            )
        except TooManySessions:
            self.metrics.refused.labels("too_many_sessions").inc()
            await self._close_client(
                SessionEnd(
                    "too_many_sessions",
                    CloseCode.TOO_MANY_SESSIONS,
                    error_code="too_many_sessions",
                    message=f"This customer already has {self.settings.max_sessions_per_customer} "
                    "conversations open; close one first.",
                )
            )
            return "too_many_sessions"
        self.metrics.active_sessions.inc()
        end = SessionEnd("error", CloseCode.INTERNAL_ERROR, error_code="server_error")
        try:
            self._emit(
                SessionStarted(
                    customer_id=self.customer_id,
                    gateway=self.deps.registry.gateway_id,
                    upstream=self.settings.upstream_kind,
                    model=self.settings.upstream_model,
                    voice=self.settings.voice,
                    language=self.settings.language,
                )
            )
            end = await self._serve()
        except SessionEnd as exc:
            end = exc
        except Exception:
            log.exception("session failed")
        finally:
            self._ending = True
            await self._finish(end)
        return end.reason

    # -- lifecycle ---------------------------------------------------------------------------------
    async def _serve(self) -> SessionEnd:
        self.tools = await self.deps.catalog.realtime_tools()
        try:
            self.upstream, session = await self._open_upstream(replay=False)
        except UpstreamError as exc:
            log.warning("upstream unavailable", extra={"error": str(exc)})
            raise SessionEnd(
                "upstream_unavailable",
                CloseCode.TRY_AGAIN_LATER,
                error_code="upstream_unavailable",
                message="The voice service is unavailable; try again shortly.",
            ) from exc
        self._upstream_ready.set()
        await self._send_client(
            {
                "type": "session.created",
                "event_id": self._client_event_id(),
                "session": client_view_of_session(session),
            }
        )
        if self.display:
            info = SessionInfo(
                session_id=self.id,
                customer_id=self.customer_id,
                upstream=self.settings.upstream_kind,
                model=self.settings.upstream_model,
            )
            await self._send_client_text(info.model_dump_json())
        log.info("session started", extra={"tools": len(self.tools)})
        ends: list[SessionEnd] = []
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self._client_pump(), name=f"{self.id}-client")
                tg.create_task(self._upstream_pump(), name=f"{self.id}-upstream")
                tg.create_task(self._watchdog(), name=f"{self.id}-watchdog")
        except* SessionEnd as group:
            ends.extend(e for e in group.exceptions if isinstance(e, SessionEnd))
        if ends:
            return ends[0]
        raise SessionEnd("error", CloseCode.INTERNAL_ERROR, error_code="server_error")

    async def _finish(self, end: SessionEnd) -> None:
        if self.upstream is not None:
            await self.upstream.close()
        for payload in self.conversation.flush():
            self._emit(payload)
        self._emit(SessionEnded(reason=end.reason, detail=end.message if end.error_code else None))
        await self.deps.registry.unregister(self.id)
        self.metrics.active_sessions.dec()
        self.metrics.sessions.labels(end.reason).inc()
        log.info("session ended", extra={"reason": end.reason, "close_code": int(end.code)})
        await self._close_client(end)

    async def _close_client(self, end: SessionEnd) -> None:
        if end.reason == "client_closed":
            return
        if end.error_code is not None:
            with contextlib.suppress(Exception):
                await self._send_client(
                    error_event(
                        self._client_event_id(),
                        end.message,
                        code=end.error_code,
                        kind="invalid_request_error"
                        if int(end.code) >= 4000 or end.code == CloseCode.MESSAGE_TOO_BIG
                        else "server_error",
                    )
                )
        with contextlib.suppress(Exception):
            await self.client.close(int(end.code), end.reason[:120])

    # -- upstream setup ------------------------------------------------------------------------------
    async def _open_upstream(
        self, *, replay: bool, skip_response: str | None = None
    ) -> tuple[Upstream, dict[str, Any]]:
        """Connect, configure with the policy (and the client's accepted changes), and replay
        the conversation so far when asked; returns the upstream and its session object."""
        upstream = await self.deps.connector.connect()
        try:
            async with asyncio.timeout(self.settings.upstream_connect_timeout_s):
                await self._expect(upstream, "session.created")
                await upstream.send(
                    {
                        "type": "session.update",
                        "event_id": self._gw_event_id(),
                        "session": self.deps.policy.session_update(self.tools, self._overrides),
                    }
                )
                updated = await self._expect(upstream, "session.updated")
            if replay:
                for item in self.conversation.replay_items(skip_response=skip_response):
                    self._replayed.add(item["id"])
                    await upstream.send(
                        {
                            "type": "conversation.item.create",
                            "event_id": self._gw_event_id(),
                            "item": item,
                        }
                    )
        except (TimeoutError, ConnectionClosed, OSError, ValueError) as exc:
            await upstream.close()
            raise UpstreamError(f"upstream setup failed: {exc!r}") from exc
        except BaseException:
            await upstream.close()
            raise
        self._upstream_opened = time.monotonic()
        return upstream, updated["session"]

    @staticmethod
    async def _expect(upstream: Upstream, kind: str) -> dict[str, Any]:
        while True:
            for event, _raw in await upstream.recv():
                if event.get("type") == kind:
                    return event
                if event.get("type") == "error":
                    raise UpstreamError(f"upstream refused the session: {event.get('error')}")

    async def _swap_upstream(self, cause: str, failed: Upstream | None = None) -> None:
        """Open a new upstream session, replay, and switch to it (drop or renewal)."""
        async with self._swap_lock:
            if failed is not None and self.upstream is not failed:
                return  # someone already replaced it
            self._upstream_ready.clear()
            old = self.upstream
            in_response = self.conversation.active_response
            attempts = self.settings.upstream_reconnect_attempts if cause == "drop" else 1
            delay = self.settings.upstream_reconnect_backoff_s
            last: Exception | None = None
            for attempt in range(max(1, attempts)):
                if attempt:
                    await asyncio.sleep(min(delay * 2 ** (attempt - 1), 5.0))
                try:
                    new, _session = await self._open_upstream(
                        replay=True, skip_response=in_response if cause == "drop" else None
                    )
                    break
                except UpstreamError as exc:
                    last = exc
                    log.warning(
                        "upstream reconnect failed",
                        extra={"attempt": attempt + 1, "error": str(exc)},
                    )
            else:
                if cause == "renewal" and old is not None:
                    self._upstream_ready.set()  # keep the old one; try again later
                    self._upstream_opened = time.monotonic() - self.settings.renew_after_s + 30
                    return
                self._emit(
                    ErrorOccurred(code="upstream_lost", message=str(last), source="upstream")
                )
                raise SessionEnd(
                    "upstream_lost",
                    CloseCode.TRY_AGAIN_LATER,
                    error_code="upstream_unavailable",
                    message="The voice service connection was lost and could not be restored.",
                )
            self.upstream = new
            self.upstream_swaps += 1
            self._upstream_changed.set()
            async with self._swapped:
                self._swapped.notify_all()
            self.metrics.upstream_reconnects.labels(cause).inc()
            log.info("upstream replaced", extra={"cause": cause, "items": len(self._replayed)})
            if old is not None:
                await old.close()
            self._response_requested = False
            if in_response is not None and cause == "drop":
                # the interrupted response never finishes: tell the client, then start again
                self.conversation.active_response = None
                await self._send_client(
                    {
                        "type": "response.done",
                        "event_id": self._client_event_id(),
                        "response": {
                            "id": in_response,
                            "object": "realtime.response",
                            "status": "failed",
                            "status_details": {
                                "type": "failed",
                                "error": {"type": "server_error", "code": "upstream_reconnected"},
                            },
                            "output": [],
                        },
                    }
                )
            self._no_response.set()
            self._upstream_ready.set()
            if in_response is not None and cause == "drop":
                self._spawn(self._create_response())

    # -- client → upstream -------------------------------------------------------------------------
    async def _client_pump(self) -> None:
        max_bytes = self.settings.max_message_bytes
        while True:
            try:
                raw = await self.client.receive()
            except ClientGone:
                raise SessionEnd("client_closed") from None
            started = time.perf_counter()
            self._last_activity = time.monotonic()
            size = len(raw)
            if size > max_bytes:
                raise SessionEnd(
                    "message_too_large",
                    CloseCode.MESSAGE_TOO_BIG,
                    error_code="message_too_large",
                    message=f"A message of {size} bytes exceeds the limit of {max_bytes} bytes.",
                )
            try:
                event = inspect_client_event(raw)
            except RefusedEvent as exc:
                await self._refuse(exc)
                continue
            data = event.data
            if event.type == APPEND:
                if self.input_format == "audio/pcm" and event.audio_bytes % 2:
                    # PCM16 comes in whole 2-byte samples; half a sample is a framing bug
                    await self._refuse(
                        RefusedEvent(
                            ClientEventError(
                                f"Invalid 'audio': {event.audio_bytes} bytes is not a whole "
                                "number of 16-bit PCM samples.",
                                code="invalid_value",
                                param="audio",
                            ),
                            data.get("event_id") if isinstance(data.get("event_id"), str) else None,
                        )
                    )
                    continue
                ms = audio_ms(event.audio_bytes, self.input_format)
                if not self._limiter.take(ms, time.monotonic()):
                    raise SessionEnd(
                        "audio_rate_exceeded",
                        CloseCode.AUDIO_RATE_EXCEEDED,
                        error_code="audio_rate_exceeded",
                        message="Input audio is arriving faster than the allowed rate "
                        f"({self.settings.max_audio_rate:g}x real time).",
                    )
                await self._forward(event.raw, data)
            elif event.type == "conversation.item.truncate":
                item_id = str(data["item_id"])
                requested = int(data["audio_end_ms"])
                clamped, facts = self.conversation.clamp_truncate(item_id, requested)
                for fact in facts:
                    self._emit(fact)
                if clamped != requested:
                    log.info(
                        "truncation clamped",
                        extra={"item_id": item_id, "requested_ms": requested, "heard_ms": clamped},
                    )
                    data = {**data, "audio_end_ms": clamped}
                    await self._forward(json.dumps(data), data)
                else:
                    await self._forward(event.raw, data)
            else:
                await self._forward(event.raw, data)
            self._c2u.record(size, time.perf_counter() - started)

    async def _forward(self, raw: str, data: dict[str, Any]) -> None:
        """Send a client event upstream; across an upstream swap it waits for the new one."""
        for _ in range(2):
            if not self._upstream_ready.is_set():
                await self._upstream_ready.wait()
            upstream = self.upstream
            assert upstream is not None
            try:
                await upstream.send_raw(raw, data)
                return
            except ConnectionClosed:
                if data.get("type") == APPEND:
                    return  # a lost audio chunk is better than a late one
                # the upstream pump notices the drop and swaps; wait for that, then retry once
                async with asyncio.timeout(self.settings.upstream_connect_timeout_s * 2):
                    while self.upstream is upstream and not self._ending:
                        self._upstream_changed.clear()
                        await self._upstream_changed.wait()

    async def _refuse(self, exc: RefusedEvent) -> None:
        self.metrics.errors.labels("client", exc.code).inc()
        self._emit(ErrorOccurred(code=exc.code, message=exc.message[:500], source="client"))
        await self._send_client(
            error_event(
                self._client_event_id(),
                exc.message,
                code=exc.code,
                param=exc.param,
                client_event_id=exc.event_id,
                kind=exc.kind,
            )
        )

    # -- upstream → client -------------------------------------------------------------------------
    async def _upstream_pump(self) -> None:
        while True:
            upstream = self.upstream
            assert upstream is not None
            try:
                batch = await upstream.recv()
            except (ConnectionClosed, OSError) as exc:
                if self.upstream is not upstream:
                    continue  # replaced on purpose (renewal)
                log.warning("upstream dropped", extra={"error": repr(exc)})
                await self._swap_upstream("drop", failed=upstream)
                continue
            except ValueError:
                log.warning("unreadable upstream event ignored")
                continue
            if self.upstream is not upstream:
                continue  # late events of a replaced upstream
            for event, raw in batch:
                await self._on_server_event(event, raw)

    async def _on_server_event(self, event: dict[str, Any], raw: str | None) -> None:
        started = time.perf_counter()
        kind = event.get("type")
        if kind == "response.output_audio.delta":  # the hot path
            text = raw if raw is not None else json.dumps(event)
            await self._send_client_text(text)
            for fact in self.conversation.on_delivered(
                str(event.get("item_id")), event.get("response_id"), str(event.get("delta", ""))
            ):
                self._emit(fact)
            self._last_activity = time.monotonic()
            self._u2c.record(len(text), time.perf_counter() - started)
            return
        item = event.get("item") if isinstance(event.get("item"), dict) else None
        if kind in _ECHO_KINDS and item is not None and item.get("id") in self._replayed:
            return  # echo of our replay on a new upstream session
        for fact in self.conversation.observe(event):
            self._emit(fact)
        forward: dict[str, Any] | None = event
        if kind == "response.created":
            self._response_requested = False
            self._no_response.clear()
            self._last_activity = time.monotonic()
        elif kind == "response.done":
            forward = self._on_response_done(event)
        elif kind == "input_audio_buffer.speech_started":
            self._speaking = True
        elif kind in ("input_audio_buffer.speech_stopped", "input_audio_buffer.cleared"):
            self._speaking = False
        elif kind == "response.function_call_arguments.done":
            self._start_tool(event)
            forward = None
        elif kind == "response.function_call_arguments.delta" or (
            item is not None and item.get("type") in _FUNCTION_ITEMS
        ):
            forward = None
        elif kind in ("session.updated", "session.created"):
            session = event.get("session") or {}
            self._learn_session(session)
            forward = (
                {**event, "session": client_view_of_session(session)}
                if kind == "session.updated"
                else None
            )
        elif kind == "error":
            forward = self._on_upstream_error(event)
        if forward is None:
            return
        text = raw if forward is event and raw is not None else json.dumps(forward)
        await self._send_client_text(text)
        self._u2c.record(len(text), time.perf_counter() - started)

    def _on_response_done(self, event: dict[str, Any]) -> dict[str, Any]:
        response = event.get("response") or {}
        if self.conversation.active_response is None:
            self._no_response.set()
        self._last_activity = time.monotonic()
        calls = self._calls.pop(str(response.get("id")), None)
        if calls:
            self._spawn(self._deliver_outputs(calls))
        output = response.get("output") or []
        if not any(o.get("type") in _FUNCTION_ITEMS for o in output):
            return event
        visible = [o for o in output if o.get("type") not in _FUNCTION_ITEMS]
        return {**event, "response": {**response, "output": visible}}

    def _on_upstream_error(self, event: dict[str, Any]) -> dict[str, Any] | None:
        error = event.get("error") or {}
        code = str(error.get("code") or error.get("type") or "unknown")
        self.metrics.errors.labels("upstream", code).inc()
        self._emit(
            ErrorOccurred(
                code=code[:64], message=str(error.get("message", ""))[:500], source="upstream"
            )
        )
        if str(error.get("event_id") or "").startswith(GW_EVENT_PREFIX):
            log.warning(
                "upstream refused a gateway event",
                extra={"code": code, "error_message": error.get("message")},
            )
            if code == "conversation_already_has_active_response" and self._response_requested:
                self._response_requested = False
                self._spawn(self._create_response())
            return None
        return event

    def _learn_session(self, session: dict[str, Any]) -> None:
        """Remember the formats in use and the client-changeable settings (re-applied after a
        reconnect)."""
        audio = session.get("audio") or {}
        audio_in = audio.get("input") or {}
        audio_out = audio.get("output") or {}
        fmt_in = (audio_in.get("format") or {}).get("type")
        fmt_out = (audio_out.get("format") or {}).get("type")
        if fmt_in:
            self.input_format = fmt_in
        if fmt_out:
            self.conversation.audio_format = fmt_out
        overrides: dict[str, Any] = {"audio": {"input": {}, "output": {}}}
        for key in _OVERRIDABLE_IN:
            if key in audio_in:
                overrides["audio"]["input"][key] = audio_in[key]
        for key in _OVERRIDABLE_OUT:
            if key in audio_out:
                overrides["audio"]["output"][key] = audio_out[key]
        for key in ("output_modalities", "max_output_tokens"):
            if key in session:
                overrides[key] = session[key]
        self._overrides = overrides

    # -- tools -------------------------------------------------------------------------------------
    def _start_tool(self, event: dict[str, Any]) -> None:
        call_id = str(event.get("call_id"))
        name = str(event.get("name"))
        arguments = str(event.get("arguments") or "{}")
        response_id = str(event.get("response_id"))
        task = self._spawn(self._run_tool(call_id, name, arguments))
        self._calls.setdefault(response_id, []).append(task)

    async def _run_tool(
        self, call_id: str, name: str, arguments: str
    ) -> tuple[str, ToolCallResult]:
        self._tools_running += 1
        try:
            try:
                args = json.loads(arguments or "{}")
                if not isinstance(args, dict):
                    raise ValueError("arguments must be a JSON object")
            except ValueError as exc:
                result = ToolCallResult(
                    call_id=call_id,
                    ok=False,
                    error=ToolError(
                        code=ToolErrorCode.INVALID_ARGUMENTS,
                        message=f"The arguments are not a JSON object: {exc}",
                    ),
                    duration_ms=0,
                    worker=GATEWAY_WORKER,
                )
                self._emit(ToolCalled(call_id=call_id, tool=name, arguments={}))
                self._tool_done(name, result, 0.0)
                return call_id, result
            self._emit(ToolCalled(call_id=call_id, tool=name, arguments=args))
            if self.display:
                await self._send_client_text(
                    ToolStartedDisplay(
                        call_id=call_id, tool=name, summary=_summary(name, args)
                    ).model_dump_json()
                )
            started = time.perf_counter()
            call = asyncio.ensure_future(
                self.deps.broker.call_tool(
                    call_id=call_id,
                    session_id=self.id,
                    customer_id=self.customer_id,
                    tool=name,
                    arguments=args,
                    timeout_s=self.settings.tool_timeout_s,
                )
            )
            filler = self.settings.filler_after_s
            if filler > 0:
                done, _ = await asyncio.wait({call}, timeout=filler)
                if not done:
                    await self._say_filler()
            result = await call
            elapsed = time.perf_counter() - started
            self._tool_done(name, result, elapsed)
            if self.display:
                await self._send_client_text(
                    ToolCompletedDisplay(
                        call_id=call_id,
                        tool=name,
                        ok=result.ok,
                        summary=_done_summary(name, result),
                        card=result.output if result.ok else None,
                        error_code=str(result.error.code) if result.error else None,
                        duration_ms=round(elapsed * 1000, 3),
                    ).model_dump_json()
                )
            return call_id, result
        finally:
            self._tools_running -= 1

    def _tool_done(self, name: str, result: ToolCallResult, elapsed_s: float) -> None:
        outcome = "ok" if result.ok else str(result.error.code if result.error else "error")
        self.metrics.tool_calls.labels(name, outcome).inc()
        self.metrics.tool_round_trip.labels(name).observe(elapsed_s)
        if not result.ok:
            self.metrics.errors.labels("tool", outcome).inc()
        self._emit(
            ToolCompleted(
                call_id=result.call_id,
                tool=name,
                ok=result.ok,
                output=result.output if result.ok else None,
                error_code=str(result.error.code) if result.error else None,
                error_message=result.error.message if result.error else None,
                duration_ms=round(elapsed_s * 1000, 3),
                worker=result.worker,
            )
        )

    async def _deliver_outputs(self, calls: list[asyncio.Task[tuple[str, ToolCallResult]]]) -> None:
        """Every call of one response answered: hand the outputs to the model, then ask it to
        speak (once no response is active)."""
        results = await asyncio.gather(*calls)
        for call_id, result in results:
            await self._send_upstream(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": call_id,
                        "output": result.model_text(),
                    },
                }
            )
        await self._create_response()

    async def _create_response(self, response: dict[str, Any] | None = None) -> None:
        async with self._response_lock:
            while self.conversation.active_response is not None or self._response_requested:
                self._no_response.clear()
                await self._no_response.wait()
            self._response_requested = True
            event: dict[str, Any] = {"type": "response.create"}
            if response is not None:
                event["response"] = response
            await self._send_upstream(event)

    async def _say_filler(self) -> None:
        """A short spoken filler while a slow tool runs (only when nothing else is playing)."""
        if self.conversation.active_response is not None or self._response_requested:
            return
        self._response_requested = True
        await self._send_upstream(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "output_modalities": ["audio"],
                    "instructions": f'Say "{self.settings.filler_text}"',
                    "tool_choice": "none",
                    "input": [],
                    "metadata": {"switchboard": "filler"},
                },
            }
        )

    async def _send_upstream(self, event: dict[str, Any]) -> None:
        event = {"event_id": self._gw_event_id(), **event}
        await self._upstream_ready.wait()
        log.debug("to upstream", extra={"event_type": event["type"], "event_id": event["event_id"]})
        assert self.upstream is not None
        with contextlib.suppress(ConnectionClosed):
            await self.upstream.send(event)

    # -- watchdog ----------------------------------------------------------------------------------
    async def _watchdog(self) -> None:
        s = self.settings
        while True:
            now = time.monotonic()
            if self._end_request is not None:
                raise self._end_request
            if now - self._started >= s.max_session_s:
                raise SessionEnd(
                    "max_duration",
                    CloseCode.MAX_DURATION,
                    error_code="session_expired",
                    message=f"The conversation reached its maximum duration of {s.max_session_s:g} seconds.",
                )
            busy = self.conversation.active_response is not None or self._tools_running > 0
            if not busy and now - self._last_activity >= s.idle_timeout_s:
                raise SessionEnd(
                    "idle",
                    CloseCode.IDLE_TIMEOUT,
                    error_code="idle_timeout",
                    message=f"No activity for {s.idle_timeout_s:g} seconds.",
                )
            if (
                now - self._upstream_opened >= s.renew_after_s
                and not busy
                and not self._speaking
                and self._upstream_ready.is_set()
            ):
                await self._swap_upstream("renewal")
                continue
            deadlines = [
                self._started + s.max_session_s,
                self._last_activity + s.idle_timeout_s,
                self._upstream_opened + s.renew_after_s,
            ]
            wait = max(0.05, min(deadlines) - now)
            if busy or self._speaking:
                wait = min(wait, 0.5)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    # -- plumbing ----------------------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        assert self._tg is not None
        return self._tg.create_task(coro)  # type: ignore[arg-type]

    def _emit(self, payload: EventPayload) -> None:
        if isinstance(payload, TurnLatency):
            self.metrics.turn_latency.observe(payload.latency_ms / 1000)
        self.deps.publisher.publish(
            ConversationEvent(session_id=self.id, seq=self._seq, payload=payload)
        )
        self._seq += 1

    def _gw_event_id(self) -> str:
        self._gw_events += 1
        return f"{GW_EVENT_PREFIX}{self._gw_events}"

    @staticmethod
    def _client_event_id() -> str:
        return f"event_gw_{uuid.uuid4().hex[:20]}"

    async def _send_client(self, event: dict[str, Any]) -> None:
        await self._send_client_text(json.dumps(event))

    async def _send_client_text(self, text: str) -> None:
        try:
            async with self._send_lock:
                await self.client.send(text)
        except ClientGone:
            raise SessionEnd("client_closed") from None


def _summary(tool: str, args: dict[str, Any]) -> str:
    words = tool.replace("_", " ")
    order = args.get("order_id")
    return f"{words.capitalize()} for order {order}" if order is not None else words.capitalize()


def _done_summary(tool: str, result: ToolCallResult) -> str:
    if result.ok:
        return f"{tool.replace('_', ' ').capitalize()}: done"
    assert result.error is not None
    return result.error.message[:200]


ClientFactory = Callable[[], ClientSocket]
