"""The recording assembler: a job consumer of ``{ns}.store.recordings`` (``recording.ended``
events), off the hot path, so it scales with its own replicas (KEDA on the queue's length).

For each finished recording it waits (bounded by ``STORE_ASSEMBLY_WAIT_S``) until the session's
segments are all stored by the ingest (their count equals ``recording.ended.segments``), reads
them from the recording store, assembles one two-channel WAV
(:func:`switchboard.recording.assemble.assemble_wav`, in a thread), writes it as
``{session}/recording.wav`` and marks the recording ``ready``. Segments still missing at the
deadline are left out and counted (``assembled_segments`` < ``segments``: the API says how many).

Acknowledgement: a job is acknowledged once its file is written and recorded, or when there is
nothing to do (already assembled, the session deleted); a failure of the database or the store
returns it to the queue, whose delivery limit moves a job that keeps failing to
``{ns}.store.recordings.dlq``; an unreadable message goes there at once, with the reason.

The compressed copy (``STORE_RECORDING_COMPRESSED``: Ogg Opus, FLAC or none) is encoded from
the WAV in a worker thread (:func:`switchboard.store.recording_copy.encode_copy`) and written
beside it as ``{session}/recording.opus`` or ``.flac``, then recorded with the WAV in one
transaction, so a job cut short makes both again. The CPU work (mixing, encoding) is done before
that transaction opens, so no connection idles in it meanwhile. A copy that fails (the encoder
refuses, the store does not take it) is logged and counted
(``switchboard_store_recording_copies_total{outcome="failed"}``) and left absent: the WAV is
still written and the recording still ``ready``.

A session deleted while its recording is assembled: the session row is held (``FOR KEY SHARE``)
from writing the files to recording them, so a deletion waits for that and then removes them
with the rest (the API deletes a session's objects after its rows too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.amqp import Topology
from switchboard.contracts.events import (
    ConversationEvent,
    RecordingEnded,
    parse_conversation_events,
)
from switchboard.recording import RecordingNotFound, RecordingStore, session_prefix
from switchboard.recording.assemble import PlacedSegment, assemble_wav, decode
from switchboard.runtime.deadletter import DeadLetters
from switchboard.store import recording_queries as rq
from switchboard.store.metrics import StoreMetrics
from switchboard.store.recording_copy import COPY_FORMATS, CopyCodec, encode_copy

__all__ = [
    "WAV_TYPE",
    "Assembler",
    "CopyPolicy",
    "assemble_recording",
    "recording_copy_key",
    "recording_file_key",
]

log = logging.getLogger(__name__)

WAV_TYPE = "audio/wav"
_POLL_S = 0.1
DLQ_ROUTING_KEY = "recordings"


def recording_file_key(session_id: str) -> str:
    """The key of a session's assembled file."""
    return f"{session_prefix(session_id)}recording.wav"


def recording_copy_key(session_id: str, codec: Literal["opus", "flac"]) -> str:
    """The key of a session's compressed copy (``recording.opus`` or ``recording.flac``)."""
    return f"{session_prefix(session_id)}recording.{COPY_FORMATS[codec].extension}"


@dataclass(frozen=True)
class CopyPolicy:
    """Which compressed copy to make beside the WAV (``none``: none), and Opus's bitrate."""

    codec: CopyCodec = "none"
    opus_kbps: int = 16


_NO_COPY = CopyPolicy()


async def assemble_recording(
    engine: AsyncEngine,
    store: RecordingStore,
    session_id: str,
    ended: RecordingEnded,
    *,
    wait_s: float,
    copy: CopyPolicy = _NO_COPY,
    metrics: StoreMetrics | None = None,
) -> str:
    """Assemble one finished recording (and its compressed copy, as *copy* says); returns the
    outcome (ready, partial, empty, skipped, gone). Raises on a database or store failure of the
    WAV (the job is retried); a copy that fails is counted in *metrics* and left absent."""
    async with engine.connect() as conn:
        row = await rq.recording_of(conn, session_id)
    if (
        row is not None
        and row.status in ("ready", "empty")
        and (row.assembled_segments or 0) >= ended.segments
    ):
        return "skipped"
    deadline = time.monotonic() + wait_s
    while True:
        async with engine.connect() as conn:
            known, stored = await rq.segment_progress(conn, session_id)
        if (known and stored >= ended.segments) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(_POLL_S)
    if not known:
        log.warning("no such session; recording not assembled", extra={"session_id": session_id})
        return "gone"
    async with engine.connect() as conn:
        stored_segments = await rq.segments_of(conn, session_id)
    raw: list[tuple[rq.StoredSegment, bytes]] = []
    for seg in stored_segments:
        try:
            raw.append((seg, await store.get(seg.key)))
        except RecordingNotFound:
            log.warning("segment object missing", extra={"session_id": session_id, "key": seg.key})
    assembled = len(raw)
    if assembled < ended.segments:
        log.warning(
            "assembling without every segment",
            extra={"session_id": session_id, "segments": ended.segments, "assembled": assembled},
        )
    key: str | None = None
    size: int | None = None
    rate: int | None = None
    duration = 0.0
    wav: bytes | None = None
    encoded: bytes | None = None
    made: rq.StoredCopy | None = None
    if assembled:
        # decoding, mixing and encoding are CPU work: in a thread, so the API stays responsive,
        # and before the transaction, so no database connection idles in one meanwhile
        built, rate, duration = await asyncio.to_thread(_build, raw)
        wav = built
        if copy.codec != "none":
            encoded = await _encode_copy(session_id, built, copy, metrics)
    async with engine.begin() as conn:
        if not await rq.lock_session(conn, session_id):
            return "gone"
        if wav is not None:
            key, size = recording_file_key(session_id), len(wav)
            await store.put(key, wav, content_type=WAV_TYPE)
            if encoded is not None and copy.codec != "none":
                made = await _put_copy(store, session_id, encoded, copy.codec, metrics)
        await rq.mark_assembled(
            conn,
            session_id,
            status="ready" if assembled else "empty",
            segments=ended.segments,
            assembled=assembled,
            duration_ms=duration,
            sample_rate=rate,
            file_key=key,
            file_size=size,
            file_type=WAV_TYPE if key else None,
            copy=made,
        )
    log.info(
        "recording assembled",
        extra={
            "session_id": session_id,
            "bytes": size,
            "segments": assembled,
            "copy_bytes": made.size if made else None,
        },
    )
    if not assembled:
        return "empty"
    return "ready" if assembled >= ended.segments else "partial"


def _copy_failed(metrics: StoreMetrics | None, session_id: str, codec: str, error: str) -> None:
    if metrics is not None:
        metrics.recording_copies.labels(codec, "failed").inc()
    log.warning(
        "compressed copy not made; the WAV is kept",
        extra={"session_id": session_id, "codec": codec, "error": error},
    )


async def _encode_copy(
    session_id: str, wav: bytes, copy: CopyPolicy, metrics: StoreMetrics | None
) -> bytes | None:
    """*wav* encoded as the policy says (in a thread); None, logged and counted, when the
    encoder fails: a copy never costs the WAV."""
    assert copy.codec != "none"
    started = time.perf_counter()
    try:
        data = await asyncio.to_thread(encode_copy, wav, copy.codec, opus_kbps=copy.opus_kbps)
    except Exception as exc:  # CopyFailed, or anything unexpected of the codec
        _copy_failed(metrics, session_id, copy.codec, str(exc) or repr(exc))
        return None
    log.info(
        "compressed copy encoded",
        extra={
            "session_id": session_id,
            "codec": copy.codec,
            "bytes": len(data),
            "wav_bytes": len(wav),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return data


async def _put_copy(
    store: RecordingStore,
    session_id: str,
    data: bytes,
    codec: Literal["opus", "flac"],
    metrics: StoreMetrics | None,
) -> rq.StoredCopy | None:
    """Write the encoded copy beside the WAV; None, logged and counted, when the store fails."""
    fmt = COPY_FORMATS[codec]
    key = recording_copy_key(session_id, codec)
    try:
        await store.put(key, data, content_type=fmt.content_type)
    except Exception as exc:  # RecordingStoreError, or anything unexpected of the store
        _copy_failed(metrics, session_id, codec, str(exc) or repr(exc))
        return None
    if metrics is not None:
        metrics.recording_copies.labels(codec, "made").inc()
    return rq.StoredCopy(key=key, size=len(data), content_type=fmt.content_type)


def _build(raw: list[tuple[rq.StoredSegment, bytes]]) -> tuple[bytes, int, float]:
    """Decode the segments and assemble the file (runs in a worker thread)."""
    channels: dict[str, list[PlacedSegment]] = defaultdict(list)
    for seg, data in raw:
        channels[seg.channel].append(
            PlacedSegment(seg.start_ms, seg.index, decode(data, seg.audio_format), seg.sample_rate)
        )
    return assemble_wav(channels)


class Assembler:
    """Consumes the recording jobs with a bounded prefetch; each job runs in the consumer's
    callback (aio-pika runs callbacks concurrently up to the prefetch).

    A supervisor owns the broker link, as the ingest's does: it connects, declares and consumes
    (bounded by *attach_timeout_s*), waits until the channel or connection closes or the broker
    cancels the consumer, and starts over with backoff; no library's silent reconnection."""

    def __init__(
        self,
        *,
        amqp_url: str,
        connection_name: str,
        topology: Topology,
        engine: AsyncEngine,
        store: RecordingStore,
        metrics: StoreMetrics,
        concurrency: int,
        wait_s: float,
        reconnect_s: float = 1.0,
        attach_timeout_s: float = 15.0,
        idle_s: float = 0.0,
        copy: CopyPolicy = _NO_COPY,
    ) -> None:
        self._amqp_url = amqp_url
        self._connection_name = connection_name
        self._topology = topology
        self._engine = engine
        self._store = store
        self._metrics = metrics
        self._concurrency = concurrency
        self._wait_s = wait_s
        self._reconnect_s = reconnect_s
        self._attach_timeout_s = attach_timeout_s
        self._idle_s = idle_s
        self._copy = copy
        self._sweeper: asyncio.Task[None] | None = None
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._dead_letters: DeadLetters | None = None
        self._tag: str | None = None
        self._queue: AbstractQueue | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._lost = asyncio.Event()
        self._attached = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def consuming(self) -> bool:
        return (
            self._attached.is_set()
            and self._channel is not None
            and not self._channel.is_closed
            and self._tag is not None
        )

    async def start(self) -> None:
        """Start the supervisor; return once the consumer is registered the first time."""
        self._supervisor = asyncio.create_task(self._supervise(), name="store-assembler-broker")
        await self._attached.wait()
        if self._idle_s > 0:
            self._sweeper = asyncio.create_task(self._sweep(), name="store-assembler-sweep")
        log.info(
            "assembling recordings",
            extra={"queue": self._topology.store_recordings_queue, "prefetch": self._concurrency},
        )

    async def _supervise(self) -> None:
        delay = self._reconnect_s
        while not self._stopping:
            try:
                async with asyncio.timeout(self._attach_timeout_s):
                    await self._attach()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "broker unreachable (assembler); retrying",
                    extra={"error": repr(exc) or type(exc).__name__, "retry_in_s": delay},
                )
                await self._detach()
                await asyncio.sleep(delay)
                delay = min(delay * 2, max(self._reconnect_s, 5.0))
                continue
            delay = self._reconnect_s
            self._attached.set()
            await self._lost.wait()
            if self._stopping:
                return
            log.warning("assembler's broker link lost; reconnecting", extra={"retry_in_s": delay})
            await self._detach()
            await asyncio.sleep(delay)

    async def _attach(self) -> None:
        self._lost.clear()
        connection = await aio_pika.connect(
            self._amqp_url,
            client_properties={"connection_name": self._connection_name},
            timeout=self._attach_timeout_s,
        )
        self._connection = connection
        connection.close_callbacks.add(self._on_lost)
        channel = await connection.channel()
        channel.close_callbacks.add(self._on_lost)
        self._channel = channel
        await channel.set_qos(prefetch_count=self._concurrency)
        self._dead_letters = DeadLetters(
            await self._topology.declare_dead_letters(channel),
            routing_key=DLQ_ROUTING_KEY,
            counter=self._metrics.dead_lettered,
        )
        self._queue = await self._topology.declare_recordings_queue(channel)
        raw = await channel.get_underlay_channel()
        raw.on_consumer_cancel_callbacks.add(self._on_lost)
        self._tag = await self._queue.consume(self._on_message)

    async def _sweep(self) -> None:
        """Every so often, assemble the recordings whose end never came (see
        :mod:`switchboard.store.recording_sweep`)."""
        from switchboard.store.recording_sweep import sweep_abandoned

        interval = min(60.0, max(1.0, self._idle_s / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                found = await sweep_abandoned(
                    self._engine,
                    self._store,
                    idle_s=self._idle_s,
                    copy=self._copy,
                    metrics=self._metrics,
                )
            except Exception as exc:
                log.warning("abandoned recordings sweep failed", extra={"error": repr(exc)})
                continue
            if found:
                self._metrics.recordings_assembled.labels("abandoned").inc(found)

    def _on_lost(self, *_: object) -> None:
        self._lost.set()

    async def _detach(self) -> None:
        self._attached.clear()
        self._tag, self._queue, self._channel = None, None, None
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await connection.close()

    async def stop(self, grace_s: float) -> None:
        """Stop taking jobs, let running ones finish (bounded), close the link; a job cut short
        is redelivered."""
        self._stopping = True
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._queue.cancel(self._tag)
        for task in (self._sweeper, self._supervisor):
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._running:
            _, pending = await asyncio.wait(self._running, timeout=grace_s)
            for task in pending:
                task.cancel()
        await self._detach()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await self._handle(message)
        finally:
            if task is not None:
                self._running.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            events = [e for e in parse_conversation_events(message.body) if _is_ended(e)]
        except ValidationError as exc:
            await self._dead_letter(message, f"invalid event: {exc.errors()[0]['msg']}")
            return
        if not events:
            await self._dead_letter(message, "not a recording.ended event")
            return
        # the one place that settles a job: acknowledged when the block ends, returned to the
        # queue when it raises (the queue's delivery limit dead-letters a job that keeps failing)
        try:
            async with message.process(requeue=True):
                for event in events:
                    await self._assemble(event)
        except Exception:
            self._metrics.recordings_assembled.labels("failed").inc()
            log.exception(
                "recording assembly failed; returned to the queue",
                extra={"session_id": events[0].session_id},
            )

    async def _assemble(self, event: ConversationEvent) -> None:
        assert type(event.payload) is RecordingEnded
        started = time.perf_counter()
        outcome = await assemble_recording(
            self._engine,
            self._store,
            event.session_id,
            event.payload,
            wait_s=self._wait_s,
            copy=self._copy,
            metrics=self._metrics,
        )
        self._metrics.recordings_assembled.labels(outcome).inc()
        self._metrics.assembly_seconds.observe(time.perf_counter() - started)

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        assert self._dead_letters is not None
        await self._dead_letters.keep(
            message.body,
            reason=reason,
            queue=self._topology.store_recordings_queue,
            headers=message.headers,
            content_type=message.content_type,
            message_id=message.message_id,
        )
        await message.ack()


def _is_ended(event: ConversationEvent) -> bool:
    return type(event.payload) is RecordingEnded
