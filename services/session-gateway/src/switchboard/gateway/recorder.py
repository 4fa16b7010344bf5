"""One conversation's recording: what the relay hands it, and the writer task that turns that
into segments in the recording store.

On the relay path the recorder only keeps references: the frame of each forwarded append and of
each relayed audio delta, with the wall-clock time (added to a flat list). Everything
else happens in the writer task, about once a :data:`TICK_S`: the audio is cut out of the
frames and decoded, placed on the timeline (:class:`~switchboard.gateway.recording.Timeline`),
and each completed segment is ``put`` into the store; only once the store took it is its
``recording.segment`` event emitted (the broker carries the key, never the audio). A store
that fails is retried a few times and the segment is then counted as lost: the call never
notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from switchboard.contracts.events import EventPayload, RecordingEnded, RecordingSegment
from switchboard.gateway.entries import FORMATS_CHANGED, SPEECH, SWAP, TRUNCATE, ingest
from switchboard.gateway.metrics import GatewayMetrics
from switchboard.gateway.recording import FORMATS, INDEX_GAP, RecordingState, Segment, Timeline
from switchboard.recording import RecordingStore, open_recording_store, segment_key

if TYPE_CHECKING:
    from switchboard.gateway.session import Session
    from switchboard.gateway.settings import GatewaySettings

__all__ = ["TICK_S", "Recorder", "open_store", "recorder_for"]

log = logging.getLogger(__name__)

#: How often the writer looks at what the relay handed it.
TICK_S = 1.0
#: Attempts per segment, and the pause before each retry.
RETRIES_S = (0.2, 0.5)
#: server events the recorder learns from (the relay's own entries: gateway/entries.py)
_SPEECH = frozenset({"input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"})
_SESSION = frozenset({"session.created", "session.updated"})


class Recorder:
    """The recording of one conversation."""

    def __init__(
        self,
        *,
        store: RecordingStore | None,
        session_id: str,
        started_wall: float,
        input_format: str,
        output_format: str,
        segment_s: float,
        metrics: GatewayMetrics,
        emit: Callable[[EventPayload], None],
        state: RecordingState | None = None,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.metrics = metrics
        self.emit = emit
        self.timeline = Timeline(
            started_wall=started_wall,
            input_format=input_format,
            output_format=output_format,
            segment_ms=segment_s * 1000,
            state=state,
        )
        self.segments = state.segments if state else 0
        self.failed = state.failed if state else 0
        #: what the relay handed over since the writer last looked: (kind, frame or fields, time)
        self.pending: list[Any] = []
        self._closing = False
        #: what the writer awaits between looks: a future that a timer (or close) resolves
        self._wake: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._queued = 0

    # -- from the relay (no I/O, no parsing) ---------------------------------------------------
    def observe(self, event: dict[str, Any], input_format: str, output_format: str) -> None:
        """A server event that is not audio (the user's speech turns, format changes)."""
        kind = event.get("type")
        if kind in _SPEECH:
            at = event.get("audio_start_ms", event.get("audio_end_ms"))
            if isinstance(at, int | float):
                self.pending.extend((SPEECH, kind, str(event.get("item_id")), at))
        elif kind in _SESSION:
            self.pending.extend((FORMATS_CHANGED, input_format, output_format, None))

    def truncated(self, item_id: str, heard_ms: int) -> None:
        self.pending.extend((TRUNCATE, item_id, heard_ms, None))

    def upstream_swapped(self) -> None:
        self.pending.extend((SWAP, None, None, None))

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.session_id}-recorder")

    async def close(self, *, ended: bool, timeout_s: float = 5.0) -> None:
        """Complete everything and write what is left (for at most *timeout_s*); then, when the
        conversation *ended* here (not taken over: the recording goes on at the new holder),
        emit ``recording.ended``."""
        self._closing = True
        if self._wake is not None:
            _resolve(self._wake)
        if self._task is not None:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._task
            except TimeoutError:
                log.warning("recording flush timed out", extra={"timeout_s": timeout_s})
            except Exception:
                log.exception("recorder failed")
        # what could not be written in time is lost from the recording
        self.failed += self._queued
        self._set_queued(0)
        if ended:
            self.emit(
                RecordingEnded(
                    segments=self.segments,
                    duration_ms=round(self.timeline.duration_ms, 3),
                    failed_segments=self.failed,
                )
            )

    def state(self) -> RecordingState:
        """For the resume snapshot."""
        t = self.timeline
        return RecordingState(
            enabled=True,
            next_index=dict(t.next_index),
            segments=self.segments,
            failed=self.failed,
            caller_end_ms=t.caller_end,
            assistant_end_ms=t.assistant_end,
        )

    # -- the writer ------------------------------------------------------------------------------
    async def _run(self) -> None:
        # each session in its own phase: sessions that started together (a burst of calls)
        # must not all drain in the same turn of the event loop, which would stall the relay
        pause = random.uniform(0.1, 1.0) * TICK_S
        loop = asyncio.get_running_loop()
        while True:
            if not self._closing:  # a bare future and a timer: a wait_for was a task a look
                self._wake = wake = loop.create_future()
                timer = loop.call_later(pause, _resolve, wake)
                try:
                    await wake
                finally:
                    timer.cancel()
            pause = TICK_S
            closing = self._closing
            try:
                self._drain()
                if closing:
                    self.timeline.close()
                else:
                    self.timeline.tick(time.time())
                    self.timeline.settle()
            except Exception:
                log.exception("recording dropped a batch of audio")
            segments, marks = self.timeline.take()
            for mark in marks:
                self.emit(mark)
            self._set_queued(self._queued + len(segments))
            for segment in segments:
                await self._write(segment)
                self._set_queued(self._queued - 1)
            if closing:
                return

    def _drain(self) -> None:
        """The relay's entries, in order, onto the timeline."""
        pending = self.pending.copy()  # the relay holds pending.extend: the same list stays
        self.pending.clear()
        ingest(self.timeline, pending)

    async def _write(self, segment: Segment) -> None:
        key = segment_key(self.session_id, segment.channel, segment.index)
        channel = segment.channel
        for attempt, pause in enumerate((*RETRIES_S, None)):
            try:
                if self.store is None:
                    raise RuntimeError("no recording store")
                await self.store.put(key, segment.data)
            except Exception as exc:
                self.metrics.recording_store_errors.inc()
                if pause is None or (self._closing and attempt):
                    log.warning(
                        "recording segment lost", extra={"key": key, "error": repr(exc)[:300]}
                    )
                    self.failed += 1
                    self.metrics.recording_segments.labels(channel, "failed").inc()
                    return
                await asyncio.sleep(pause)
            else:
                break
        fmt, rate, _ = FORMATS[segment.fmt]
        self.segments += 1
        self.metrics.recording_segments.labels(channel, "written").inc()
        self.metrics.recording_bytes.labels(channel).inc(len(segment.data))
        self.emit(
            RecordingSegment(
                channel=channel,
                index=segment.index,
                start_ms=round(segment.start_ms, 3),
                duration_ms=round(segment.duration_ms, 3),
                audio_format=fmt,
                sample_rate=rate,
                key=key,
                size=len(segment.data),
                item_id=segment.item_id,
                said_ms=round(segment.said_ms, 3) if segment.said_ms is not None else None,
            )
        )

    def _set_queued(self, count: int) -> None:
        self.metrics.recording_queue.inc(count - self._queued)
        self._queued = count


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def recorder_for(session: Session, *, consent: bool) -> Recorder | None:
    """The recorder of *session*, or None when it is not recorded: recording off for the
    deployment, or no *consent* (for a resumed conversation, what its snapshot says). A
    conversation taken from a holder that had not let go skips :data:`INDEX_GAP` segment
    numbers per channel, so keys never collide with what that holder wrote after its last
    snapshot. Its events do not mark the snapshot for rewriting: with a segment and a mark
    per answer that was a Redis write per answer for nothing but the numbers, which the last
    snapshot of a holder that lets go has anyway and :data:`INDEX_GAP` covers when one dies (then
    ``recording.ended`` may miss what the dead holder wrote after its last snapshot; the seqs are
    covered by :data:`~switchboard.gateway.handover.SEQ_GAP`, as control events touch it often)."""
    if not session.settings.recording or not consent:
        return None
    state: RecordingState | None = None
    resume = session.resume
    if resume is not None and resume.recording is not None:
        state = resume.recording.model_copy(deep=True)
        if resume.state == "live":
            state.next_index = {k: v + INDEX_GAP for k, v in state.next_index.items()}
    core = session.core
    return Recorder(
        store=session.deps.recordings,
        session_id=session.id,
        started_wall=session.started_wall,
        input_format=core.input_format,
        output_format=core.conversation.audio_format,
        segment_s=session.settings.recording_segment_s,
        metrics=session.metrics,
        emit=lambda payload: session.emit(payload, touch=False),
        state=state,
    )


async def open_store(settings: GatewaySettings, metrics: GatewayMetrics) -> RecordingStore | None:
    """The recording store, for the lifespan; one that cannot be opened or does not answer is
    logged and counted, and the gateway serves calls anyway (recording is best effort: their
    segments are counted as failed)."""
    kind = settings.recording_store
    try:
        store = await open_recording_store(settings)
    except Exception as exc:
        metrics.recording_store_errors.inc()
        log.warning("recording store unavailable", extra={"store": kind, "error": repr(exc)})
        return None
    with contextlib.suppress(Exception):
        async with asyncio.timeout(3.0):
            if await store.ready():
                return store
    metrics.recording_store_errors.inc()
    log.warning("recording store does not answer; recording will fail", extra={"store": kind})
    return store
