"""The analyst API's response bodies (its OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "DayCount",
    "LatencyStats",
    "LiveSession",
    "Me",
    "ModelUsage",
    "SearchHit",
    "SearchPage",
    "SessionDetail",
    "SessionPage",
    "SessionSummary",
    "Stats",
    "TimelineEntry",
    "ToolStats",
    "ViewLogEntry",
]


class SessionSummary(BaseModel):
    id: str
    customer_id: str | None
    upstream: str | None
    model: str | None
    voice: str | None
    language: str | None
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    duration_s: float | None = Field(description="ended_at - started_at, when ended.")
    event_count: int
    missing_events: int = Field(description="Gaps in seq so far (last_seq + 1 - event_count).")
    user_turns: int
    assistant_turns: int
    interruptions: int
    tool_calls: int
    tool_failures: int
    errors: int
    escalated: bool
    resumes: int = Field(default=0, description="Times the conversation was resumed.")
    cost_usd: Decimal | None = Field(
        default=None,
        description=(
            "The price table applied to the session's token usage (a decimal string, USD); "
            "null without usage or when some of it has no price (see unpriced_models)."
        ),
    )
    cost_estimated: bool = Field(
        default=False, description="Some usage was estimated (the emulator), not metered."
    )
    unpriced_models: list[str] = Field(
        default_factory=list, description="Models of its usage the price table has no price for."
    )
    recorded: bool = Field(
        default=False,
        description=(
            "The conversation was recorded (session.started said so, or recording events "
            "arrived); false when recording was off for the deployment or the session."
        ),
    )
    recording: Literal["recording", "ended", "ready", "empty"] | None = Field(
        default=None,
        description=(
            "The recording's status: recording (segments arriving), ended (being assembled), "
            "ready (GET /api/sessions/{id}/recording plays it), empty (no audio); null: none."
        ),
    )


class ModelUsage(BaseModel):
    """A session's token usage of one model, and its cost."""

    model: str
    responses: int
    estimated: bool
    input_text_tokens: int
    input_audio_tokens: int
    cached_text_tokens: int
    cached_audio_tokens: int
    output_text_tokens: int
    output_audio_tokens: int
    cost_usd: Decimal | None = Field(description="Null: no price for this model.")


class SessionPage(BaseModel):
    sessions: list[SessionSummary]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )


class TimelineEntry(BaseModel):
    """One entry of a session's timeline, in ``seq`` order."""

    kind: Literal[
        "session.started",
        "session.ended",
        "session.resumed",
        "user",
        "assistant",
        "tool",
        "latency",
        "error",
    ]
    seq: int
    at: datetime | None
    item_id: str | None = Field(default=None, description="The conversation item (user/assistant).")
    text: str | None = None
    interrupted: bool | None = None
    heard_text: str | None = None
    heard_ms: int | None = None
    audio_ms: int | None = None
    tool: str | None = None
    call_id: str | None = None
    arguments: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    outcome: str | None = None
    error_message: str | None = None
    duration_ms: float | None = None
    worker: str | None = None
    user_item_id: str | None = Field(
        default=None,
        description=(
            "Tool calls: the customer's latest item when the model called; for confirm_action, "
            "the turn whose yes confirmed the change."
        ),
    )
    latency_ms: float | None = None
    code: str | None = None
    source: str | None = None
    reason: str | None = None
    gateway: str | None = Field(default=None, description="session.resumed: the gateway now.")
    previous_gateway: str | None = None
    items_replayed: int | None = None
    gap_ms: float | None = None
    superseded: bool | None = Field(
        default=None, description="session.ended: a later session.resumed reopened the session."
    )
    verification: str | None = Field(
        default=None,
        description=(
            "session.started: the caller's verification level at the start (phone calls start "
            "unverified); null when the shop's backend authenticated the customer."
        ),
    )


class SessionDetail(BaseModel):
    session: SessionSummary
    gateway: str | None
    end_detail: str | None
    timeline: list[TimelineEntry]
    usage: list[ModelUsage] = Field(default_factory=list, description="Token usage per model.")


class SearchHit(BaseModel):
    session_id: str
    seq: int
    role: str
    at: datetime
    customer_id: str | None
    snippet: str = Field(description="The matching text with matches in <mark>...</mark>.")


class SearchPage(BaseModel):
    hits: list[SearchHit]
    next_cursor: str | None


class DayCount(BaseModel):
    day: date
    sessions: int


class ToolStats(BaseModel):
    tool: str
    calls: int
    failures: int
    failure_rate: float
    p50_ms: float | None
    p95_ms: float | None


class LatencyStats(BaseModel):
    turns: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None


class Stats(BaseModel):
    since: datetime
    until: datetime
    sessions: int
    escalated: int
    escalation_rate: float
    interrupted_sessions: int
    per_day: list[DayCount]
    tools: list[ToolStats]
    latency: LatencyStats
    end_reasons: dict[str, int]


class LiveSession(BaseModel):
    session_id: str
    customer_id: str | None
    gateway: str | None
    upstream: str | None
    model: str | None
    started_at: datetime | None


class Me(BaseModel):
    name: str
    role: str


class ViewLogEntry(BaseModel):
    analyst: str
    role: str
    action: str
    session_id: str | None
    detail: dict[str, Any] | None
    at: datetime


class EndResult(BaseModel):
    session_id: str
    requested: bool
    gateways: int = Field(description="Gateways that received the request (0: none holds it).")
