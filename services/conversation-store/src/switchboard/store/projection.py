"""From conversation events to the rows of the audit projections (sessions, items, tool calls,
latencies, errors). Pure: no I/O.

Every merge here is commutative, so the result does not depend on the order events arrive in:
a session's start fields come from ``session.started`` whenever it is stored, its end from the
``session.ended`` with the highest ``seq`` (superseded by a ``session.resumed`` of a higher
``seq``: the session is open again until a later end), counters add up, an item takes its place in the
timeline from its transcript event's ``seq``. The writer applies the same rules in SQL when a
row already exists (see :mod:`switchboard.store.writer`).

Payloads are told apart with ``type(p) is ...`` rather than ``isinstance``: pydantic models have
an ABC metaclass, so each isinstance() runs ``ABCMeta.__instancecheck__``, and this runs for
every stored event (the payload classes have no subclasses).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from switchboard.contracts.events import (
    AssistantTranscript,
    ConversationEvent,
    ErrorOccurred,
    ResponseUsage,
    SessionEnded,
    SessionResumed,
    SessionStarted,
    ToolCalled,
    ToolCompleted,
    Truncated,
    TurnLatency,
    UserTranscript,
)
from switchboard.store.projection_rows import ErrorRow, LatencyRow, SessionUsageRow, UsageRow

__all__ = [
    "ErrorRow",
    "ItemRow",
    "LatencyRow",
    "Projection",
    "SessionDelta",
    "SessionUsageRow",
    "ToolCallRow",
    "UsageRow",
    "project",
]


@dataclass
class SessionDelta:
    """What a group of events adds to one session row."""

    id: str
    started_at: datetime
    last_event_at: datetime
    last_seq: int
    customer_id: str | None = None
    gateway: str | None = None
    upstream: str | None = None
    model: str | None = None
    voice: str | None = None
    language: str | None = None
    start_seq: int | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    end_detail: str | None = None
    end_seq: int | None = None
    resume_seq: int | None = None
    resumes: int = 0
    event_count: int = 0
    user_turns: int = 0
    assistant_turns: int = 0
    interruptions: int = 0
    tool_calls: int = 0
    tool_failures: int = 0
    errors: int = 0
    escalated: bool = False
    #: the turn latencies (ms) of these events, appended to the session's (for dashboards)
    latencies: list[float] | None = None

    def add(self, event: ConversationEvent, escalation_tools: frozenset[str]) -> None:
        # payloads are matched with ``type(p) is ...`` (see the module docstring)
        p = event.payload
        at, seq = event.occurred_at, event.seq
        self.event_count += 1
        if seq > self.last_seq:
            self.last_seq = seq
        if at > self.last_event_at:
            self.last_event_at = at
        if self.start_seq is None and at < self.started_at:
            self.started_at = at
        if type(p) is UserTranscript:
            self.user_turns += 1
        elif type(p) is AssistantTranscript:
            self.assistant_turns += 1
            self.interruptions += int(p.interrupted)
        elif type(p) is ToolCalled:
            self.tool_calls += 1
        elif type(p) is ToolCompleted:
            self.tool_failures += int(not p.ok)
            self.escalated = self.escalated or (p.ok and p.tool in escalation_tools)
        elif type(p) is SessionStarted:
            if self.start_seq is None or seq > self.start_seq:
                self.start_seq, self.started_at = seq, at
                self.customer_id, self.gateway, self.upstream = p.customer_id, p.gateway, p.upstream
                self.model, self.voice, self.language = p.model, p.voice, p.language
        elif type(p) is SessionEnded:
            if self.end_seq is None or seq > self.end_seq:
                self.end_seq, self.ended_at = seq, at
                self.end_reason, self.end_detail = p.reason, p.detail
        elif type(p) is SessionResumed:
            self.resumes += 1
            if self.resume_seq is None or seq > self.resume_seq:
                self.resume_seq = seq
        elif type(p) is ErrorOccurred:
            self.errors += 1
        elif type(p) is TurnLatency:
            if self.latencies is None:
                self.latencies = []
            self.latencies.append(p.latency_ms)


@dataclass
class ItemRow:
    """One conversation item; ``text`` is None while only its truncation is known."""

    session_id: str
    item_id: str
    seq: int
    role: str
    occurred_at: datetime
    text: str | None = None
    interrupted: bool = False
    heard_text: str | None = None
    audio_ms: int | None = None
    heard_ms: int | None = None
    speech_started_ms: int | None = None
    speech_ended_ms: int | None = None
    response_id: str | None = None

    def merge(self, other: ItemRow) -> None:
        """Fold *other* (the same item, from another event) into this row."""
        if other.text is not None:
            self.seq, self.occurred_at, self.role = other.seq, other.occurred_at, other.role
        elif self.text is None and other.seq < self.seq:
            self.seq, self.occurred_at = other.seq, other.occurred_at
        self.text = other.text if other.text is not None else self.text
        self.interrupted = self.interrupted or other.interrupted
        for name in (
            "heard_text",
            "audio_ms",
            "heard_ms",
            "speech_started_ms",
            "speech_ended_ms",
            "response_id",
        ):
            value = getattr(other, name)
            if value is not None:
                setattr(self, name, value)


@dataclass
class ToolCallRow:
    """One tool call; the call and its completion may come in either order."""

    session_id: str
    call_id: str
    tool: str
    outcome: str = "pending"
    arguments: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    error_message: str | None = None
    duration_ms: float | None = None
    worker: str | None = None
    called_seq: int | None = None
    completed_seq: int | None = None
    called_at: datetime | None = None
    completed_at: datetime | None = None
    #: the customer's latest item when the model called (what a confirmation came after)
    user_item_id: str | None = None

    def merge(self, other: ToolCallRow) -> None:
        if other.completed_seq is not None:
            self.outcome = other.outcome
        for name in (
            "arguments",
            "output",
            "error_message",
            "duration_ms",
            "worker",
            "called_seq",
            "completed_seq",
            "called_at",
            "completed_at",
            "user_item_id",
        ):
            value = getattr(other, name)
            if value is not None:
                setattr(self, name, value)


@dataclass
class Projection:
    """The projection rows of a batch of new events, each list sorted by its key (a stable
    lock order, so concurrent store processes cannot deadlock)."""

    sessions: list[SessionDelta] = field(default_factory=list)
    items: list[ItemRow] = field(default_factory=list)
    tool_calls: list[ToolCallRow] = field(default_factory=list)
    latencies: list[LatencyRow] = field(default_factory=list)
    errors: list[ErrorRow] = field(default_factory=list)
    usage: list[UsageRow] = field(default_factory=list)
    session_usage: list[SessionUsageRow] = field(default_factory=list)


def _item(event: ConversationEvent) -> ItemRow | None:
    p, sid, seq, at = event.payload, event.session_id, event.seq, event.occurred_at
    if type(p) is UserTranscript:
        return ItemRow(
            sid,
            p.item_id,
            seq,
            "user",
            at,
            text=p.text,
            speech_started_ms=p.speech_started_ms,
            speech_ended_ms=p.speech_ended_ms,
        )
    if type(p) is AssistantTranscript:
        return ItemRow(
            sid,
            p.item_id,
            seq,
            "assistant",
            at,
            text=p.text,
            interrupted=p.interrupted,
            heard_text=p.heard_text,
            audio_ms=p.audio_ms,
            heard_ms=p.heard_ms,
            response_id=p.response_id,
        )
    if type(p) is Truncated:
        return ItemRow(sid, p.item_id, seq, "assistant", at, interrupted=True, heard_ms=p.heard_ms)
    return None


def _tool_call(event: ConversationEvent) -> ToolCallRow | None:
    p, sid = event.payload, event.session_id
    if type(p) is ToolCalled:
        return ToolCallRow(
            sid,
            p.call_id,
            p.tool,
            arguments=p.arguments,
            called_seq=event.seq,
            called_at=event.occurred_at,
            user_item_id=p.user_item_id,
        )
    if type(p) is ToolCompleted:
        return ToolCallRow(
            sid,
            p.call_id,
            p.tool,
            outcome="ok" if p.ok else (p.error_code or "error"),
            output=p.output,
            error_message=p.error_message,
            duration_ms=p.duration_ms,
            worker=p.worker,
            completed_seq=event.seq,
            completed_at=event.occurred_at,
        )
    return None


_ITEM_TYPES = frozenset({UserTranscript, AssistantTranscript, Truncated})
_TOOL_TYPES = frozenset({ToolCalled, ToolCompleted})
_by_session_and_seq = attrgetter("session_id", "seq")


def project(
    events: Iterable[ConversationEvent], *, escalation_tools: frozenset[str] = frozenset()
) -> Projection:
    """The projection rows of *events* (new events only: each must be counted once)."""
    sessions: dict[str, SessionDelta] = {}
    items: dict[tuple[str, str], ItemRow] = {}
    calls: dict[tuple[str, str], ToolCallRow] = {}
    out = Projection()
    for event in sorted(events, key=_by_session_and_seq):
        sid = event.session_id
        delta = sessions.get(sid)
        if delta is None:
            delta = sessions[sid] = SessionDelta(
                sid, event.occurred_at, event.occurred_at, event.seq
            )
        delta.add(event, escalation_tools)
        p = event.payload
        kind = type(p)
        if kind in _ITEM_TYPES:
            item = _item(event)
            assert item is not None
            if (known := items.get((sid, item.item_id))) is None:
                items[(sid, item.item_id)] = item
            else:
                known.merge(item)
        elif kind in _TOOL_TYPES:
            call = _tool_call(event)
            assert call is not None
            if (seen := calls.get((sid, call.call_id))) is None:
                calls[(sid, call.call_id)] = call
            else:
                seen.merge(call)
        elif type(p) is TurnLatency:
            out.latencies.append(
                LatencyRow(sid, event.seq, p.response_id, p.latency_ms, event.occurred_at)
            )
        elif type(p) is ResponseUsage:
            out.usage.append(
                UsageRow(
                    sid,
                    event.seq,
                    p.response_id,
                    p.model,
                    p.input_text_tokens,
                    p.input_audio_tokens,
                    p.cached_text_tokens,
                    p.cached_audio_tokens,
                    p.output_text_tokens,
                    p.output_audio_tokens,
                    p.estimated,
                    event.occurred_at,
                )
            )
        elif type(p) is ErrorOccurred:
            out.errors.append(
                ErrorRow(sid, event.seq, p.code, p.message, p.source, event.occurred_at)
            )
    out.sessions = [sessions[k] for k in sorted(sessions)]
    out.items = [items[k] for k in sorted(items)]
    out.tool_calls = [calls[k] for k in sorted(calls)]
    if out.usage:
        sums: dict[tuple[str, str, bool], SessionUsageRow] = {}
        for u in out.usage:
            key = (u.session_id, u.model, u.estimated)
            if (row := sums.get(key)) is None:
                row = sums[key] = SessionUsageRow(*key)
            row.add(u)
        out.session_usage = [sums[k] for k in sorted(sums)]
    return out
