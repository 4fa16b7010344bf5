"""Caller audio on its way to the gateway: carrier frames gathered into fewer, larger
``input_audio_buffer.append`` events (``PHONE_APPEND_BATCH_MS``).

Each websocket message costs the bridge a system call and a few layers of framing on both
sides, whatever its size, so one append per 100 ms instead of one per 20 ms frame takes most
of the caller-to-gateway cost away. A batch is sent once it holds the configured audio, after
that long since its first frame (a stream that goes quiet), and before anything else the call
sends to the gateway (keypad entries), so the gateway sees the caller's input in order. The
price is latency: the first frame of a batch waits up to the batch minus one frame, which
delays the gateway's voice activity detection (end of turn, barge-in) by as much.
``PHONE_APPEND_BATCH_MS=0`` (or a value up to one frame) forwards every frame at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

from switchboard.phone.metrics import PhoneMetrics
from switchboard.phone.resume import Upstream

__all__ = ["APPEND_HEAD", "Uplink", "join_b64"]

APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"'
_APPEND_TAIL = '"}'


def join_b64(parts: list[str], sizes: list[int]) -> str:
    """One base64 string for the audio of *parts* (base64 of *sizes* bytes each): joined as
    text when every part but the last is a whole number of 3-byte groups (no padding inside),
    else decoded and encoded again."""
    if len(parts) == 1:
        return parts[0]
    if all(size % 3 == 0 for size in sizes[:-1]):
        return "".join(parts)
    return base64.b64encode(b"".join(map(binascii.a2b_base64, parts))).decode("ascii")


class Uplink:
    """One call's caller-audio batch (*batch_ms* of audio at *bytes_per_ms*)."""

    def __init__(
        self, upstream: Upstream, metrics: PhoneMetrics, *, bytes_per_ms: int, batch_ms: int
    ) -> None:
        self.upstream = upstream  # the same object across resumes (its socket changes)
        self.frames = metrics.frames
        self.limit = batch_ms * bytes_per_ms
        self.delay_s = batch_ms / 1000
        self._parts: list[str] = []
        self._sizes: list[int] = []
        self._bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None

    async def audio(self, payload: str, size: int) -> None:
        """A carrier frame of caller audio (base64 *payload* of *size* bytes)."""
        if not self._parts:
            if size >= self.limit:  # no batching, or a frame as large as a batch
                await self._send(payload, 1)
                return
            self._timer = asyncio.get_running_loop().call_later(self.delay_s, self._due)
        self._parts.append(payload)
        self._sizes.append(size)
        self._bytes += size
        if self._bytes >= self.limit:
            await self.flush()

    async def flush(self) -> None:
        """Send the batch now (before anything else goes to the gateway; at the call's end)."""
        if not self._parts:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        parts, sizes = self._parts, self._sizes
        self._parts, self._sizes, self._bytes = [], [], 0
        # taken and sent in one step: websockets writes a message before its first await, so
        # batches cannot overtake each other
        await self._send(join_b64(parts, sizes), len(parts))

    async def _send(self, audio: str, frames: int) -> None:
        if await self.upstream.send(APPEND_HEAD + audio + _APPEND_TAIL):
            self.frames.caller_frames += frames
        else:
            # lost or resuming: the gateway pump decides whether the call goes on
            self.frames.gap_frames += frames

    def _due(self) -> None:
        """The batch's time is up (the stream went quiet before it filled)."""
        self._timer = None
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    def close(self) -> None:
        """Stop the timer (the call is over; what is left of the batch is dropped)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            self._flushing.cancel()
