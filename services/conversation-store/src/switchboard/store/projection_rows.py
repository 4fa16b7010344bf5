"""Rows of the append-only projections (turn latencies, errors, response usage) and the per-session
usage sums, as :mod:`switchboard.store.projection` makes them from events. Plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ErrorRow", "LatencyRow", "SessionUsageRow", "UsageRow"]


@dataclass(frozen=True)
class LatencyRow:
    session_id: str
    seq: int
    response_id: str | None
    latency_ms: float
    occurred_at: datetime


@dataclass(frozen=True)
class ErrorRow:
    session_id: str
    seq: int
    code: str
    message: str
    source: str
    occurred_at: datetime


@dataclass(frozen=True)
class UsageRow:
    """Token usage of one upstream response (one ``response.usage`` event)."""

    session_id: str
    seq: int
    response_id: str | None
    model: str
    input_text_tokens: int
    input_audio_tokens: int
    cached_text_tokens: int
    cached_audio_tokens: int
    output_text_tokens: int
    output_audio_tokens: int
    estimated: bool
    occurred_at: datetime


@dataclass
class SessionUsageRow:
    """What a batch adds to a session's usage of one model (added to the stored sums)."""

    session_id: str
    model: str
    estimated: bool
    responses: int = 0
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    cached_text_tokens: int = 0
    cached_audio_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0

    def add(self, u: UsageRow) -> None:
        self.responses += 1
        self.input_text_tokens += u.input_text_tokens
        self.input_audio_tokens += u.input_audio_tokens
        self.cached_text_tokens += u.cached_text_tokens
        self.cached_audio_tokens += u.cached_audio_tokens
        self.output_text_tokens += u.output_text_tokens
        self.output_audio_tokens += u.output_audio_tokens
