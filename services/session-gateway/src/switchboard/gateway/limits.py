"""Per-session limits that need a little state (pure logic)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AudioRateLimiter"]


@dataclass
class AudioRateLimiter:
    """A token bucket over milliseconds of input audio: the client may send audio at ``rate``
    times real time on average, with bursts up to ``burst_ms`` ahead."""

    rate: float
    burst_ms: float
    _tokens: float = field(init=False)
    _at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst_ms

    def take(self, ms: float, now: float) -> bool:
        """Spend *ms* of audio at time *now* (seconds); False when over the limit."""
        if self._at is not None:
            self._tokens = min(self.burst_ms, self._tokens + (now - self._at) * 1000 * self.rate)
        self._at = now
        if ms > self._tokens:
            return False
        self._tokens -= ms
        return True
