"""Where a conversation's audio lies on its recording's timeline (pure logic, no I/O).

:class:`Timeline` takes the audio of both channels as decoded chunks with the wall-clock time
each arrived, and cuts it into the segments the recorder writes
(:mod:`~switchboard.gateway.recorder`). 0 on the timeline is the session's start (wall clock;
a resumed session keeps the first one's).

- **caller**: the audio as received, in order. A chunk's natural place is where it ends when it
  arrives (``now - duration``); it goes right after the channel's end unless that place is more
  than :data:`GAP_MS` later (network jitter never cuts the audio; a client that stopped sending
  leaves a gap, and a gap starts a new segment). Segments are about ``segment_ms`` long, so a
  crash loses at most the last one. The upstream's input clock (ms of audio appended, which
  ``speech_started`` / ``speech_stopped`` count in) maps to the timeline through the runs.
- **assistant**: the audio **as heard**: one segment per assistant item, placed at the channel's
  end or the wall time of its first delta, whichever is later; cut where the client truncated it,
  else complete once its playback would have ended (plus a margin) or at the end.
"""

from __future__ import annotations

import bisect
import contextlib
from dataclasses import dataclass, field
from typing import Literal

import pybase64
from pydantic import BaseModel, ConfigDict, Field

from switchboard.contracts.events import RecordingMark

__all__ = [
    "FORMATS",
    "GAP_MS",
    "INDEX_GAP",
    "PLAYBACK_MARGIN_MS",
    "Audio",
    "RecordingState",
    "Segment",
    "Timeline",
    "audio_size",
    "decode",
]

#: A realtime format -> (recording format, sample rate, bytes per ms).
FORMATS: dict[str, tuple[Literal["pcm16", "pcmu", "pcma"], int, int]] = {
    "audio/pcm": ("pcm16", 24000, 48),
    "audio/pcmu": ("pcmu", 8000, 8),
    "audio/pcma": ("pcma", 8000, 8),
}
#: Caller audio arriving later than this after the channel's end leaves a gap (silence).
GAP_MS = 250.0
#: An assistant item not truncated is complete this long after its playback would have ended.
PLAYBACK_MARGIN_MS = 3000.0
#: Segment numbers skipped when a conversation is taken from a holder that had not let go: the
#: segments it wrote after its last snapshot never share a key with the new holder's.
INDEX_GAP = 100
#: Runs of caller audio kept for mapping the upstream's input clock (older marks are rare).
_RUNS_KEPT = 64

#: A piece of audio: the bytes, or their base64 text as the frame carried it (decoded when its
#: segment is complete: one decode per segment rather than one per frame).
Audio = bytes | str


def audio_size(piece: Audio) -> int:
    """How many bytes *piece* is (for base64 text: once decoded)."""
    if isinstance(piece, str):
        return len(piece) // 4 * 3 - piece.count("=", -2)
    return len(piece)


def decode(parts: list[Audio]) -> bytes:
    """The bytes of *parts* in order. Base64 pieces are joined and decoded in one go (strictly:
    pybase64's fast path, about a third of the instructions of its lenient one), except that
    a padded piece (``=`` at its end) ends a run: padding inside base64 text is invalid. A
    piece that is not base64 is left out (the rest of the segment is kept)."""
    try:
        return _decode(parts)
    except ValueError:  # binascii.Error: decoded piece by piece, the bad ones skipped
        out = []
        for piece in parts:
            with contextlib.suppress(ValueError):
                out.append(pybase64.b64decode(piece) if isinstance(piece, str) else piece)
        return b"".join(out)


def _decode(parts: list[Audio]) -> bytes:
    if parts and type(parts[0]) is bytes:  # the caller's samples, decoded by the policy
        with contextlib.suppress(TypeError):
            return b"".join(parts)  # type: ignore[arg-type]  # a TypeError when text is among them
    else:
        try:  # the common case: unpadded pieces, valid base64 (padding inside is invalid)
            return pybase64.b64decode("".join(parts), validate=True)  # type: ignore[arg-type]
        except (TypeError, ValueError):  # bytes among them, or padding inside: by runs below
            pass
    out: list[bytes] = []
    run: list[str] = []
    for piece in parts:
        if not isinstance(piece, str):
            if run:
                out.append(pybase64.b64decode("".join(run)))
                run = []
            out.append(piece)
            continue
        run.append(piece)
        if piece.endswith("="):
            out.append(pybase64.b64decode("".join(run)))
            run = []
    if run:
        out.append(pybase64.b64decode("".join(run)))
    return b"".join(out)


class RecordingState(BaseModel):
    """What a gateway resuming the conversation needs to carry its recording on."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    next_index: dict[str, int] = Field(default_factory=lambda: {"caller": 0, "assistant": 0})
    segments: int = Field(default=0, ge=0, description="Segments written so far.")
    failed: int = Field(default=0, ge=0, description="Segments the store did not take.")
    caller_end_ms: float = 0.0
    assistant_end_ms: float = 0.0


@dataclass(slots=True)
class Segment:
    """A closed stretch of one channel, ready to write."""

    channel: Literal["caller", "assistant"]
    index: int
    start_ms: float
    data: bytes
    fmt: str
    item_id: str | None = None
    said_ms: float | None = None

    @property
    def duration_ms(self) -> float:
        return len(self.data) / FORMATS[self.fmt][2]


@dataclass(slots=True)
class _Open:
    """A segment still growing: its pieces are kept as they came (joined when it closes, which
    costs less than growing one buffer frame by frame); base64 pieces are decoded together once
    per writer look (:meth:`settle`), so no frame text is held longer than that and no segment
    is ever one large text."""

    start_ms: float
    fmt: str
    parts: list[Audio] = field(default_factory=list)
    size: int = 0
    item_id: str | None = None
    #: assistant: where the client cut it (ms of its audio), wall ms of the latest delta
    cut_ms: float | None = None
    last_ms: float = 0.0
    #: how many of *parts* are settled (bytes); the rest came since the last look
    settled: int = 0

    def ms(self) -> float:
        return self.size / FORMATS[self.fmt][2]

    def settle(self) -> None:
        """The base64 pieces added since the last call, decoded as one piece (the caller's
        come decoded already)."""
        parts = self.parts
        if len(parts) > self.settled and type(parts[-1]) is not bytes:  # base64 text came
            parts[self.settled :] = [decode(parts[self.settled :])]
        self.settled = len(parts)

    def data(self) -> bytes:
        return decode(self.parts)


class Timeline:
    """Both channels of one conversation's recording, placed and cut into segments."""

    def __init__(
        self,
        *,
        started_wall: float,
        input_format: str,
        output_format: str,
        segment_ms: float = 5000.0,
        state: RecordingState | None = None,
    ) -> None:
        self.started_wall = started_wall
        self.input_format = input_format
        self.output_format = output_format
        self.segment_ms = segment_ms
        st = state or RecordingState()
        self.next_index = dict(st.next_index)
        self.caller_end = st.caller_end_ms
        self.assistant_end = st.assistant_end_ms
        self.caller: _Open | None = None
        self.assistant: dict[str, _Open] = {}
        #: items whose segment is closed (late deltas and truncations of them are ignored)
        self.closed_items: set[str] = set()
        #: ms of caller audio appended (cumulative), and its value when the upstream started
        self.input_ms = 0.0
        self.input_base = 0.0
        #: (input ms, timeline ms) where each run of contiguous caller audio starts
        self._runs_in: list[float] = []
        self._runs_at: list[float] = []
        self._speech: dict[str, float] = {}
        self.segments: list[Segment] = []
        self.marks: list[RecordingMark] = []

    # -- caller --------------------------------------------------------------------------------
    def caller_audio(self, data: Audio, at_wall: float) -> None:
        """A chunk the client appended (and the gateway forwarded) at *at_wall*. Runs for every
        chunk: no calls but the segment's open and close, no rounding (of the start only)."""
        size = len(data) if type(data) is bytes else audio_size(data)
        if size <= 0:
            return
        fmt = self.input_format
        bpm = FORMATS[fmt][2]
        duration = size / bpm
        natural = (at_wall - self.started_wall) * 1000 - duration
        current = self.caller
        gap = natural - self.caller_end > GAP_MS
        if current is not None and (
            gap or current.fmt != fmt or current.size / bpm >= self.segment_ms
        ):
            self._close_caller()
            current = None
        if current is None:
            start = max(0.0, round(natural, 3)) if gap else self.caller_end
            current = self.caller = _Open(start, fmt)
            if gap or not self._runs_in:
                self._run(start)
        current.parts.append(data)
        current.size += size
        self.input_ms += duration
        self.caller_end = current.start_ms + current.size / bpm

    def _run(self, start: float) -> None:
        self._runs_in.append(self.input_ms)
        self._runs_at.append(start)
        if len(self._runs_in) > _RUNS_KEPT:
            del self._runs_in[0], self._runs_at[0]

    def at_input(self, upstream_ms: float) -> float | None:
        """Where the upstream's input clock position *upstream_ms* lies on the timeline."""
        value = self.input_base + upstream_ms
        i = bisect.bisect_right(self._runs_in, value) - 1
        if i < 0:
            return None
        return self._runs_at[i] + (value - self._runs_in[i])

    def upstream_swapped(self) -> None:
        """A new upstream session: its input clock starts at 0 with the audio sent from now."""
        self.input_base = self.input_ms

    def speech(self, kind: str, item_id: str, upstream_ms: float) -> None:
        """``input_audio_buffer.speech_started`` / ``speech_stopped`` of a user item."""
        at = self.at_input(upstream_ms)
        if at is None:
            return
        if kind == "input_audio_buffer.speech_started":
            self._speech[item_id] = at
            return
        start = self._speech.pop(item_id, None)
        if start is not None:
            self.marks.append(
                RecordingMark(item_id=item_id, role="user", start_ms=start, end_ms=max(start, at))
            )

    def _close_caller(self) -> None:
        current, self.caller = self.caller, None
        if current is not None and current.size:
            self.segments.append(self._segment("caller", current, current.data()))

    # -- assistant -----------------------------------------------------------------------------
    def assistant_audio(
        self, item_id: str, data: Audio, at_wall: float, size: int | None = None
    ) -> None:
        """An audio delta of assistant item *item_id*, relayed to the client at *at_wall*
        (*size*: its decoded size, when the relay knows it already)."""
        now = (at_wall - self.started_wall) * 1000
        item = self.assistant.get(item_id)
        if item is None:
            if item_id in self.closed_items:
                return
            end = self.assistant_end
            for other in self.assistant.values():
                end = max(end, other.start_ms + other.ms())
            item = self.assistant[item_id] = _Open(
                max(end, round(now, 3), 0.0), self.output_format, item_id=item_id
            )
        item.parts.append(data)
        item.size += size if size is not None else audio_size(data)
        item.last_ms = now

    def truncated(self, item_id: str, heard_ms: float) -> None:
        """The client cut *item_id* at *heard_ms* (already clamped to what it was sent)."""
        item = self.assistant.get(item_id)
        if item is not None:
            item.cut_ms = heard_ms
            self._close_item(item)

    def _close_item(self, item: _Open) -> None:
        assert item.item_id is not None
        del self.assistant[item.item_id]
        self.closed_items.add(item.item_id)
        said = item.ms()
        data = item.data()
        if item.cut_ms is not None:
            bpm = FORMATS[item.fmt][2]
            data = data[: int(min(item.cut_ms, said)) * bpm]
        heard = len(data) / FORMATS[item.fmt][2]
        self.assistant_end = max(self.assistant_end, item.start_ms + heard)
        if data:
            # the segment places the item (its id, start and heard length): the store takes the
            # item's mark from it, so no recording.mark (an event, a broker message) of its own
            segment = self._segment("assistant", item, data)
            segment.said_ms = said
            self.segments.append(segment)
        else:  # nothing of it was heard: only a mark says where it was
            self.marks.append(
                RecordingMark(
                    item_id=item.item_id,
                    role="assistant",
                    start_ms=item.start_ms,
                    end_ms=item.start_ms + heard,
                )
            )

    # -- both ------------------------------------------------------------------------------------
    def formats(self, input_format: str | None, output_format: str | None) -> None:
        """The session's formats changed (a session.update); new audio is in these."""
        if input_format in FORMATS:
            self.input_format = input_format
        if output_format in FORMATS:
            self.output_format = output_format

    def settle(self) -> None:
        """Decode what the open segments took since the last call (the writer calls it after
        each look, so frames are let go within a look)."""
        if self.caller is not None:
            self.caller.settle()
        for item in self.assistant.values():
            item.settle()

    def tick(self, now_wall: float) -> None:
        """Close what is complete by *now_wall*: a caller segment nothing can join any more
        (the next chunk would leave a gap), assistant items whose playback has ended."""
        now = (now_wall - self.started_wall) * 1000
        if self.caller is not None and now - self.caller_end > GAP_MS + self.segment_ms:
            self._close_caller()
        for item in list(self.assistant.values()):
            ends = max(item.start_ms + item.ms(), item.last_ms)
            if now > ends + PLAYBACK_MARGIN_MS:
                self._close_item(item)

    def close(self) -> None:
        """The conversation ended here: everything open is complete."""
        self._close_caller()
        for item in list(self.assistant.values()):
            self._close_item(item)
        for item_id, start in self._speech.items():
            self.marks.append(RecordingMark(item_id=item_id, role="user", start_ms=start))
        self._speech.clear()

    def take(self) -> tuple[list[Segment], list[RecordingMark]]:
        """The segments and marks completed since the last call."""
        segments, marks = self.segments, self.marks
        self.segments, self.marks = [], []
        return segments, marks

    @property
    def duration_ms(self) -> float:
        return max(self.caller_end, self.assistant_end)

    def _segment(
        self, channel: Literal["caller", "assistant"], item: _Open, data: bytes
    ) -> Segment:
        index = self.next_index.get(channel, 0)
        self.next_index[channel] = index + 1
        return Segment(channel, index, item.start_ms, data, item.fmt, item.item_id)
