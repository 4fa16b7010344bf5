"""One conversation: its lifecycle, and the thin layer that carries out what the core decides.

Per session one ``asyncio.TaskGroup`` runs the client pump, the upstream pump and a watchdog
(:mod:`~switchboard.gateway.pumps`); tool calls (:class:`~switchboard.gateway.tools.ToolRunner`)
run as tasks of the same group, so the audio path never waits for a tool, a broker publish or
a Redis call. What to do with each event is decided by the pure core
(:class:`~switchboard.gateway.relay.RelayCore`, :class:`~switchboard.gateway.inbound.ClientRules`);
the upstream session and its replacement belong to
:class:`~switchboard.gateway.link.UpstreamLink`. Either side ending ends the group; ``run()``
then closes the upstream, unregisters, publishes ``session.ended`` and closes the client socket
with a code that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from switchboard.contracts.events import (
    ConversationEvent,
    ErrorOccurred,
    EventPayload,
    SessionEnded,
    SessionStarted,
    Truncated,
    TurnLatency,
)
from switchboard.contracts.tools import Verification
from switchboard.gateway import handover, notices, pumps
from switchboard.gateway.actions import (
    Action,
    CreateResponse,
    DeliverOutputs,
    Emit,
    ForwardUpstream,
    IgnoreFields,
    Refuse,
    SendClient,
    SessionState,
    StartTool,
)
from switchboard.gateway.broker import Broker, EventPublisher
from switchboard.gateway.catalog import CatalogReader
from switchboard.gateway.client import (
    ClientGone,
    ClientSocket,
    client_event_id,
    how_gone,
    new_session_id,
)
from switchboard.gateway.entries import CALLER, UPDATE
from switchboard.gateway.errors import CloseCode, SessionEnd
from switchboard.gateway.handover import build_snapshot, lost_state, resume_from
from switchboard.gateway.inbound import ClientRules
from switchboard.gateway.limits import AudioRateLimiter
from switchboard.gateway.link import UpstreamLink
from switchboard.gateway.metrics import GatewayMetrics
from switchboard.gateway.policy import SessionPolicy
from switchboard.gateway.recorder import recorder_for
from switchboard.gateway.registry import SessionRegistry, TooManySessions
from switchboard.gateway.relay import RelayCore
from switchboard.gateway.resume import SnapshotKeeper, SnapshotStore, new_holder
from switchboard.gateway.settings import GatewaySettings
from switchboard.gateway.snapshot import Snapshot
from switchboard.gateway.tools import ToolRunner
from switchboard.gateway.upstream import UpstreamConnector, UpstreamError
from switchboard.observability import bind_log_context
from switchboard.recording import RecordingStore

__all__ = ["ClientGone", "ClientSocket", "Session", "SessionDeps"]

log = logging.getLogger(__name__)


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
    snapshots: SnapshotStore
    recordings: RecordingStore | None = None  # None: off, or the store could not be opened


class Session:
    """The relay for one client connection."""

    def __init__(
        self,
        deps: SessionDeps,
        *,
        client: ClientSocket,
        customer_id: str,
        verification: Verification | None = None,
        display: bool = False,
        session_id: str | None = None,
        resume: Snapshot | None = None,
        holder: str | None = None,
        recording: bool = True,
    ) -> None:
        self.deps = deps
        self.settings = s = deps.settings
        self.metrics = deps.metrics
        self.client = client
        self.customer_id = customer_id
        self.verification = verification
        self.display = display
        #: the snapshot this session resumes (None: a new conversation)
        self.resume = resume
        if resume is not None:
            session_id = resume.session_id
            verification = resume.verification
            self.display = display or resume.display
        self.id = session_id or new_session_id()
        self.core = RelayCore(
            audio_format=s.audio_format,
            model=s.upstream_model,
            usage_estimated=s.upstream_kind == "emulator",
        )
        self.rules = ClientRules(
            self.core,
            max_bytes=s.max_message_bytes,
            limiter=AudioRateLimiter(rate=s.max_audio_rate, burst_ms=s.audio_burst_s * 1000),
            max_audio_rate=s.max_audio_rate,
            server_fields=s.server_fields,
        )
        self.link = UpstreamLink(
            self.core,
            settings=s,
            policy=deps.policy,
            connector=deps.connector,
            metrics=self.metrics,
            emit=self.emit,
        )
        self.tools = ToolRunner(
            self.core,
            broker=deps.broker,
            settings=s,
            metrics=self.metrics,
            session_id=self.id,
            customer_id=customer_id,
            verification=verification,
            display=display,
            emit=self.emit,
            send_client=self.send_client,
            send_upstream=self.link.send,
            spawn=self.spawn,
        )
        self.end_request: SessionEnd | None = None
        self.end_when_quiet_until: float | None = None
        self.wake = asyncio.Event()
        self._seq = 0
        self._tg: asyncio.TaskGroup | None = None
        self._keeper_task: asyncio.Task[None] | None = None
        self.started_at = self.core.clock()
        self.started_wall = resume.started_at if resume is not None else time.time()
        self.keeper = SnapshotKeeper(
            deps.snapshots,
            session_id=self.id,
            holder=holder or new_holder(deps.registry.gateway_id),
            build=lambda: build_snapshot(self),
            interval_s=s.snapshot_interval_s,
        )
        self.keeper.on_lost_lease = lambda: handover.lost_lease(self)
        self.consent = resume.recording.enabled if resume and resume.recording else recording
        self.recorder = recorder_for(self, consent=self.consent)
        self.record = self.recorder.pending.extend if self.recorder is not None else None  # relay
        if resume is not None:
            self._seq = resume_from(self, resume)

    # -- public ------------------------------------------------------------------------------------
    @property
    def upstream_swaps(self) -> int:
        """How many times the upstream session was replaced (drops and renewals)."""
        return self.link.swaps

    @property
    def state(self) -> SessionState:
        return self.core.state

    @property
    def next_seq(self) -> int:
        """The seq of the next conversation event."""
        return self._seq

    def request_end(
        self,
        reason: str,
        code: CloseCode,
        *,
        error_code: str | None,
        message: str,
        close_reason: str | None = None,
        when_quiet_until: float | None = None,
    ) -> None:
        """Ask the session to end (admin, shutdown); safe to call from any callback. With
        *when_quiet_until* (a ``time.monotonic()`` deadline) it ends at its next quiet moment
        (:data:`~switchboard.gateway.pumps.QUIET_S` with no answer under way or asked for, the
        caller not speaking, no tool running), at the latest then."""
        if self.end_request is None:
            self.end_request = SessionEnd(
                reason, code, error_code=error_code, message=message, close_reason=close_reason
            )
            self.end_when_quiet_until = when_quiet_until
        elif when_quiet_until is None:
            self.end_when_quiet_until = None  # at once, now
        self.wake.set()

    async def wait_upstream_swaps(self, count: int) -> None:
        """Until the upstream session has been replaced *count* times (drops and renewals)."""
        await self.link.wait_swaps(count)

    def on_control(self, command: str) -> None:
        """A command for this conversation from another gateway (see the registry)."""
        handover.on_control(self, command)

    async def run(self) -> str:
        """Serve the conversation; returns the reason it ended."""
        bind_log_context(session_id=self.id, customer_id=self.customer_id)
        s = self.settings
        try:
            await self.deps.registry.register(
                self.id,
                customer_id=self.customer_id,
                upstream=s.upstream_kind,
                model=s.upstream_model,
                max_per_customer=s.max_sessions_per_customer,
                on_control=self.on_control,
            )
        except TooManySessions:
            await notices.too_many_sessions(self)
            return "too_many_sessions"
        self.metrics.active_sessions.inc()
        end = SessionEnd("error", CloseCode.INTERNAL_ERROR, error_code="server_error")
        try:
            if self.resume is None:
                self.emit(
                    SessionStarted(
                        customer_id=self.customer_id,
                        gateway=self.deps.registry.gateway_id,
                        upstream=s.upstream_kind,
                        model=s.upstream_model,
                        voice=s.voice,
                        language=s.language,
                        verification=self.verification,
                        recording=self.recorder is not None,
                    )
                )
            end = await self._serve()
        except SessionEnd as exc:
            end = exc
        except Exception:
            log.exception("session failed")
        finally:
            self.core.become(SessionState.ENDING)
            await self._finish(end)
            self.core.become(SessionState.ENDED)
        return end.reason

    # -- lifecycle ---------------------------------------------------------------------------------
    async def _serve(self) -> SessionEnd:
        tools = await self.deps.catalog.realtime_tools()
        try:
            session = await self.link.open(tools, replay=self.resume is not None)
        except UpstreamError as exc:
            log.warning("upstream unavailable", extra={"error": str(exc)})
            raise SessionEnd(
                "upstream_unavailable",
                CloseCode.TRY_AGAIN_LATER,
                error_code="upstream_unavailable",
                message="The voice service is unavailable; try again shortly.",
            ) from exc
        self.core.become(SessionState.LIVE)
        if self.recorder is not None:
            self.recorder.start()
        await notices.session_created(self, session)
        log.info("session started", extra={"tools": len(tools)})
        ends: list[SessionEnd] = []
        # beside the group, not in it: stopped by _finish before the last write
        self._keeper_task = asyncio.create_task(self.keeper.run(), name=f"{self.id}-snapshot")
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(pumps.client_pump(self), name=f"{self.id}-client")
                tg.create_task(pumps.upstream_pump(self), name=f"{self.id}-upstream")
                tg.create_task(pumps.watchdog(self), name=f"{self.id}-watchdog")
                if self.resume is not None:
                    handover.carry_on(self, self.resume)
        except* SessionEnd as group:
            ends.extend(e for e in group.exceptions if isinstance(e, SessionEnd))
        if ends:
            return ends[0]
        raise SessionEnd("error", CloseCode.INTERNAL_ERROR, error_code="server_error")

    async def _finish(self, end: SessionEnd) -> None:
        if self._keeper_task is not None:
            self._keeper_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                async with asyncio.timeout(2.0):
                    await self._keeper_task
        await self.link.close()
        await self.tools.settle()  # a call the worker is making is audited before the end
        taken = end.reason == "taken_over"
        for payload in self.core.flush():
            self.emit(payload)
        if self.recorder is not None:  # the rest written (bounded), before the end
            await self.recorder.close(ended=not taken)
        if not taken:  # the new holder carries the conversation on: no end for the audit
            detail = end.message if end.error_code else None
            self.emit(SessionEnded(reason=end.reason, detail=detail))
            try:  # after the end event, so a resume continues after its seq
                taken = not await self.keeper.flush(**lost_state(end.reason))
            except Exception as exc:
                log.warning("final snapshot write failed", extra={"error": repr(exc)})
        await self.deps.registry.unregister(self.id, self.on_control, shared=not taken)
        self.metrics.active_sessions.dec()
        self.metrics.sessions.labels(end.reason).inc()
        log.info("session ended", extra={"reason": end.reason, "close_code": int(end.code)})
        await notices.close_client(self, end)

    async def swap_upstream(self, cause: str, failed: Any = None) -> None:
        """Replace the upstream session (drop or renewal) and settle what the swap cut."""
        swapped, cut = await self.link.swap(cause, failed)
        if not swapped:
            return
        if self.recorder is not None:
            self.recorder.upstream_swapped()  # the new upstream's input clock starts at 0
        if cut is not None:
            await self.apply(self.core.response_cut(cut, client_event_id()))
        self.tools.wake()
        self.link.release()
        if cut is not None:
            self.spawn(self.tools.create_response())

    # -- carrying out the core's decisions ---------------------------------------------------------
    async def apply(self, actions: list[Action]) -> None:
        for action in actions:
            if type(action) is SendClient:
                try:  # send_client() inlined: one coroutine less per audio delta
                    await self.client.send(action.text)
                except ClientGone as gone:
                    raise await how_gone(gone) from None
            elif type(action) is ForwardUpstream:
                if (record := self.record) is not None:  # audio, or a session.update
                    if action.audio:  # the samples when the policy decoded them, else the frame
                        record((CALLER, action.decoded or action.raw, None, time.time()))
                    elif action.data.get("type") == "session.update":
                        record((UPDATE, None, action.data, None))
                if not self.link.forward_now(action.raw, action.data):
                    await self.link.forward(action.raw, action.data, audio=action.audio)
            elif type(action) is Emit:
                payload = action.payload
                if type(payload) is ErrorOccurred and payload.source == "upstream":
                    self.metrics.errors.labels("upstream", payload.code).inc()
                self.emit(payload)
            elif type(action) is Refuse:
                await notices.refuse(self, action)
            elif type(action) is IgnoreFields:
                notices.ignored(self, action.fields)
            elif type(action) is StartTool:
                self.tools.start(action)
            elif type(action) is DeliverOutputs:
                self.tools.deliver(action.response_id)
            elif type(action) is CreateResponse:
                self.tools.retry_response()

    # -- plumbing ----------------------------------------------------------------------------------
    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        assert self._tg is not None
        return self._tg.create_task(coro)  # type: ignore[arg-type]

    def emit(self, payload: EventPayload, *, touch: bool = True) -> None:
        if touch:  # recording events do not rewrite the snapshot (recorder.py, recorder_for)
            self.keeper.touch(prompt=True)
        if isinstance(payload, TurnLatency):
            self.metrics.turn_latency.observe(payload.latency_ms / 1000)
        elif type(payload) is Truncated and self.recorder is not None:
            self.recorder.truncated(payload.item_id, payload.heard_ms)
        self.deps.publisher.publish(
            ConversationEvent(session_id=self.id, seq=self._seq, payload=payload)
        )
        self._seq += 1

    async def send_client(self, text: str) -> None:
        try:
            await self.client.send(text)
        except ClientGone as gone:
            raise await how_gone(gone) from None
