"""What the caller has actually heard (pure, no I/O).

The bridge sends bot audio to the carrier in pieces, each followed by a named mark; the carrier
echoes a mark once the audio before it has been played. What was heard of an item is the end of
its last echoed mark, never what was sent. A ``clear`` makes the carrier drop queued audio and
(Twilio) return the pending marks at once: those echoes mean "dropped", not "played", so marks
pending at a clear are forgotten before their echo arrives.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from switchboard.phone.carriers.twilio_codec import b64_size

__all__ = ["Piece", "Playback"]


@dataclass(frozen=True, slots=True)
class Piece:
    """Audio to send (base64) followed by a mark named ``mark``."""

    payload: str
    mark: str


class Playback:
    """Per-call playback bookkeeping for one audio format (*bytes_per_ms*)."""

    def __init__(self, *, bytes_per_ms: int = 8, mark_interval_ms: int = 100) -> None:
        self.bytes_per_ms = bytes_per_ms
        self.piece_bytes = max(bytes_per_ms, mark_interval_ms * bytes_per_ms)
        self._seq = 0
        self._pending: dict[str, tuple[str, int]] = {}  # mark -> (item_id, end_ms)
        self._sent_ms: dict[str, int] = {}
        self._heard_ms: dict[str, int] = {}
        self._partial: dict[str, int] = {}  # bytes of the current unfinished piece per item
        self.last_item: str | None = None

    def pieces(self, item_id: str, payload_b64: str) -> list[Piece]:
        """Split one audio delta of *item_id* into pieces that end on mark boundaries."""
        size = b64_size(payload_b64)
        if size and size <= self.piece_bytes - self._piece_fill(item_id):
            # the whole delta fits before the next boundary: one piece, the base64 as it came
            return [self._piece(item_id, payload_b64, size)]
        audio = base64.b64decode(payload_b64)
        out: list[Piece] = []
        sent = self._sent_ms.get(item_id, 0) * self.bytes_per_ms + self._partial.get(item_id, 0)
        offset = 0
        while offset < len(audio):
            room = self.piece_bytes - (sent % self.piece_bytes)
            chunk = audio[offset : offset + room]
            offset += len(chunk)
            sent += len(chunk)
            self._seq += 1
            name = f"m{self._seq}"
            end_ms = sent // self.bytes_per_ms
            self._pending[name] = (item_id, end_ms)
            out.append(Piece(base64.b64encode(chunk).decode("ascii"), name))
        self._sent_ms[item_id] = sent // self.bytes_per_ms
        self._partial[item_id] = sent % self.bytes_per_ms
        self.last_item = item_id
        return out

    def _piece_fill(self, item_id: str) -> int:
        """Bytes of *item_id* already sent in the current piece interval."""
        sent = self._sent_ms.get(item_id, 0) * self.bytes_per_ms + self._partial.get(item_id, 0)
        return sent % self.piece_bytes

    def _piece(self, item_id: str, payload_b64: str, size: int) -> Piece:
        """*payload_b64* (*size* bytes, within one interval) as one piece, booked like above."""
        sent = self._sent_ms.get(item_id, 0) * self.bytes_per_ms + self._partial.get(item_id, 0)
        sent += size
        self._seq += 1
        name = f"m{self._seq}"
        self._pending[name] = (item_id, sent // self.bytes_per_ms)
        self._sent_ms[item_id] = sent // self.bytes_per_ms
        self._partial[item_id] = sent % self.bytes_per_ms
        self.last_item = item_id
        return Piece(payload_b64, name)

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
        """Playback is being cleared: forget pending marks; answers the item that was cut and
        how much of it was heard (None when nothing was left to play)."""
        if not self._pending:
            return None
        item_id = next(reversed(self._pending.values()))[0]
        self._pending.clear()
        return item_id, self._heard_ms.get(item_id, 0)

    def heard_ms(self, item_id: str) -> int:
        return self._heard_ms.get(item_id, 0)

    def sent_ms(self, item_id: str) -> int:
        return self._sent_ms.get(item_id, 0)

    @property
    def playing(self) -> bool:
        """Audio was sent whose marks have not come back yet."""
        return bool(self._pending)
