"""What the caller has actually heard (pure, no I/O).

The bridge sends bot audio to the carrier in pieces and a named mark at every
``mark_interval_ms`` of an item's audio; the carrier echoes a mark once the audio before it has
been played. What was heard of an item is the end of its last echoed mark, never what was sent.
Audio that does not reach the next boundary goes without a mark (a 20 ms delta under a 100 ms
interval: four of five deltas), and the end of an answer, or the next item, gets one
(:meth:`Playback.tail`); so each mark, and its echo, stands for an interval of audio rather than
a delta (two of the six websocket messages per 20 ms of a call were a mark and its echo).
A ``clear`` makes the carrier drop queued audio and (Twilio) return the pending marks at once:
those echoes mean "dropped", not "played", so marks pending at a clear are forgotten before
their echo arrives.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from switchboard.phone.carriers.twilio_codec import b64_size

__all__ = ["Piece", "Playback"]


@dataclass(frozen=True, slots=True)
class Piece:
    """Audio to send (base64; empty: a mark alone) and the mark that follows it (None: the
    piece does not reach a mark boundary)."""

    payload: str
    mark: str | None


class Playback:
    """Per-call playback bookkeeping for one audio format (*bytes_per_ms*)."""

    def __init__(self, *, bytes_per_ms: int = 8, mark_interval_ms: int = 100) -> None:
        self.bytes_per_ms = bytes_per_ms
        self.piece_bytes = max(bytes_per_ms, mark_interval_ms * bytes_per_ms)
        self._seq = 0
        self._pending: dict[str, tuple[str, int]] = {}  # mark -> (item_id, end_ms)
        #: item -> the end (ms) of its audio sent since its last mark (no mark yet)
        self._unmarked: dict[str, int] = {}
        self._sent_ms: dict[str, int] = {}
        self._heard_ms: dict[str, int] = {}
        self._partial: dict[str, int] = {}  # bytes of the current unfinished piece per item
        self.last_item: str | None = None

    def pieces(self, item_id: str, payload_b64: str) -> list[Piece]:
        """Split one audio delta of *item_id* into pieces, a mark after each that ends on a mark
        boundary (another item's unmarked audio gets its mark first)."""
        out = self.tail() if self._unmarked and item_id not in self._unmarked else []
        size = b64_size(payload_b64)
        if size:
            room = self.piece_bytes - self._piece_fill(item_id)
            if size <= room:
                # the whole delta fits before the next boundary: one piece, the base64 as it came
                out.append(Piece(payload_b64, self._book(item_id, size, marked=size == room)))
                return out
        audio = base64.b64decode(payload_b64)
        offset = 0
        while offset < len(audio):
            chunk = audio[offset : offset + self.piece_bytes - self._piece_fill(item_id)]
            offset += len(chunk)
            marked = self._piece_fill(item_id) + len(chunk) == self.piece_bytes
            mark = self._book(item_id, len(chunk), marked=marked)
            out.append(Piece(base64.b64encode(chunk).decode("ascii"), mark))
        return out

    def tail(self) -> list[Piece]:
        """Marks (alone) for the audio sent after each item's last mark: at the end of an
        answer, so what was heard can reach its last millisecond."""
        out = []
        for item_id, end_ms in self._unmarked.items():
            self._seq += 1
            name = f"m{self._seq}"
            self._pending[name] = (item_id, end_ms)
            out.append(Piece("", name))
        self._unmarked.clear()
        return out

    def _piece_fill(self, item_id: str) -> int:
        """Bytes of *item_id* already sent in the current piece interval."""
        sent = self._sent_ms.get(item_id, 0) * self.bytes_per_ms + self._partial.get(item_id, 0)
        return sent % self.piece_bytes

    def _book(self, item_id: str, size: int, *, marked: bool) -> str | None:
        """*size* more bytes of *item_id* sent; the name of the mark that follows them, if
        *marked* (they end on a boundary)."""
        sent = self._sent_ms.get(item_id, 0) * self.bytes_per_ms + self._partial.get(item_id, 0)
        sent += size
        end_ms = sent // self.bytes_per_ms
        self._sent_ms[item_id] = end_ms
        self._partial[item_id] = sent % self.bytes_per_ms
        self.last_item = item_id
        if not marked:
            self._unmarked[item_id] = end_ms
            return None
        self._unmarked.pop(item_id, None)
        self._seq += 1
        name = f"m{self._seq}"
        self._pending[name] = (item_id, end_ms)
        return name

    def played(self, mark: str) -> str | None:
        """A mark came back: the item it belongs to (None for an unknown or cleared mark)."""
        entry = self._pending.pop(mark, None)
        if entry is None:
            return None
        item_id, end_ms = entry
        if end_ms > self._heard_ms.get(item_id, 0):
            self._heard_ms[item_id] = end_ms
        return item_id

    def clear(self) -> tuple[str, int] | None:
        """Playback is being cleared: forget pending marks and unmarked audio; answers the item
        that was cut and how much of it was heard (None when nothing was left to play)."""
        if self._unmarked:
            item_id = next(reversed(self._unmarked))
        elif self._pending:
            item_id = next(reversed(self._pending.values()))[0]
        else:
            return None
        self._pending.clear()
        self._unmarked.clear()
        return item_id, self._heard_ms.get(item_id, 0)

    def heard_ms(self, item_id: str) -> int:
        return self._heard_ms.get(item_id, 0)

    def sent_ms(self, item_id: str) -> int:
        return self._sent_ms.get(item_id, 0)

    @property
    def playing(self) -> bool:
        """Audio was sent that has not been heard yet (marks not back, or audio not marked)."""
        return bool(self._pending or self._unmarked)
