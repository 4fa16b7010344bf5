"""A virtual loudspeaker: knows how much of each assistant audio item a listener has heard.

Audio deltas usually arrive faster than real time; a listener hears them at real time, one
after another. ``Playout`` keeps that timeline without playing anything, so a client can tell
when the bot has finished talking and, on barge-in, truncate an item at the position actually
heard (never beyond what was received). Pure logic: every method takes the current time.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Heard", "Playout"]


@dataclass
class _Segment:
    item_id: str
    content_index: int
    samples: int
    played: int = 0


@dataclass(frozen=True)
class Heard:
    """How much of one item the listener heard before playback stopped."""

    item_id: str
    content_index: int
    heard_ms: int
    received_ms: int


class Playout:
    """Real-time playback position over a queue of received audio (24 kHz by default).

    ``jitter_ms`` delays the start of playback after the first delta of an idle queue, as a
    small jitter buffer does; while the queue runs dry playback waits (the position does not move).
    """

    def __init__(self, *, rate: int = 24_000, jitter_ms: int = 0) -> None:
        self._rate = rate
        self._jitter = jitter_ms / 1000
        self._queue: list[_Segment] = []
        self._clock: float | None = None  # when the position was last advanced
        self._received: dict[str, int] = {}
        self._played: dict[str, int] = {}

    def push(self, item_id: str, content_index: int, samples: int, now: float) -> None:
        """Audio for *item_id* arrived (appended to that item, or queued as a new segment)."""
        self.advance(now)
        if not self._queue:
            self._clock = now + self._jitter
        if self._queue and self._queue[-1].item_id == item_id:
            self._queue[-1].samples += samples
        else:
            self._queue.append(_Segment(item_id, content_index, samples))
        self._received[item_id] = self._received.get(item_id, 0) + samples

    def advance(self, now: float) -> None:
        """Move the playback position to *now*."""
        if self._clock is None or not self._queue:
            return
        budget = round((now - self._clock) * self._rate)
        if budget <= 0:
            return
        self._clock = now
        while budget > 0 and self._queue:
            head = self._queue[0]
            step = min(budget, head.samples - head.played)
            head.played += step
            budget -= step
            self._played[head.item_id] = self._played.get(head.item_id, 0) + step
            if head.played >= head.samples:
                self._queue.pop(0)

    def busy(self, now: float) -> bool:
        """True while received audio is still waiting to be heard."""
        self.advance(now)
        return bool(self._queue)

    def remaining_ms(self, now: float) -> int:
        self.advance(now)
        return sum(s.samples - s.played for s in self._queue) * 1000 // self._rate

    def heard_samples(self, item_id: str) -> int:
        return self._played.get(item_id, 0)

    def stop(self, now: float) -> Heard | None:
        """Barge-in: drop everything unheard; return the item cut short (None if nothing was)."""
        self.advance(now)
        if not self._queue:
            return None
        head = self._queue[0]
        self._queue.clear()
        self._clock = None
        return Heard(
            item_id=head.item_id,
            content_index=head.content_index,
            heard_ms=self._played.get(head.item_id, 0) * 1000 // self._rate,
            received_ms=self._received.get(head.item_id, 0) * 1000 // self._rate,
        )
