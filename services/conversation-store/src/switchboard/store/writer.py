"""Writes a batch of conversation events and their projections in one Postgres transaction.

``INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING event_id`` tells which events are new;
only those are projected, so a redelivered or duplicated event changes nothing. Each table is
written with one statement over ``unnest`` of column arrays. Upserts merge with an existing row
by the same order-independent rules as :mod:`switchboard.store.projection`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from switchboard.contracts.events import ConversationEvent
from switchboard.store.projection import Projection, project

__all__ = ["BatchWriter", "WriteResult", "is_data_error"]

_INSERT_EVENTS = """
INSERT INTO audit.event (event_id, session_id, seq, type, occurred_at, payload)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::timestamptz[],
                     $6::jsonb[])
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

_UPSERT_SESSIONS = """
INSERT INTO audit.session AS s (
    id, customer_id, gateway, upstream, model, voice, language, started_at, ended_at,
    end_reason, end_detail, start_seq, end_seq, last_seq, last_event_at, event_count,
    user_turns, assistant_turns, interruptions, tool_calls, tool_failures, errors, escalated)
SELECT * FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[], $12::int[], $13::int[],
    $14::int[], $15::timestamptz[], $16::int[], $17::int[], $18::int[], $19::int[], $20::int[],
    $21::int[], $22::int[], $23::bool[])
ON CONFLICT (id) DO UPDATE SET
    customer_id = CASE WHEN EXCLUDED.start_seq >= coalesce(s.start_seq, -1)
                       THEN EXCLUDED.customer_id ELSE s.customer_id END,
    gateway = CASE WHEN EXCLUDED.start_seq >= coalesce(s.start_seq, -1)
                   THEN EXCLUDED.gateway ELSE s.gateway END,
    upstream = CASE WHEN EXCLUDED.start_seq >= coalesce(s.start_seq, -1)
                    THEN EXCLUDED.upstream ELSE s.upstream END,
    model = CASE WHEN EXCLUDED.start_seq >= coalesce(s.start_seq, -1)
                 THEN EXCLUDED.model ELSE s.model END,
    voice = CASE WHEN EXCLUDED.start_seq >= coalesce(s.start_seq, -1)
                 THEN EXCLUDED.voice ELSE s.voice END,
    language = CASE WHEN EXCLUDED.start_seq >= coalesce(s.start_seq, -1)
                    THEN EXCLUDED.language ELSE s.language END,
    started_at = CASE WHEN EXCLUDED.start_seq >= coalesce(s.start_seq, -1) THEN EXCLUDED.started_at
                      WHEN s.start_seq IS NOT NULL THEN s.started_at
                      ELSE least(s.started_at, EXCLUDED.started_at) END,
    start_seq = greatest(s.start_seq, EXCLUDED.start_seq),
    ended_at = CASE WHEN EXCLUDED.end_seq >= coalesce(s.end_seq, -1)
                    THEN EXCLUDED.ended_at ELSE s.ended_at END,
    end_reason = CASE WHEN EXCLUDED.end_seq >= coalesce(s.end_seq, -1)
                      THEN EXCLUDED.end_reason ELSE s.end_reason END,
    end_detail = CASE WHEN EXCLUDED.end_seq >= coalesce(s.end_seq, -1)
                      THEN EXCLUDED.end_detail ELSE s.end_detail END,
    end_seq = greatest(s.end_seq, EXCLUDED.end_seq),
    last_seq = greatest(s.last_seq, EXCLUDED.last_seq),
    last_event_at = greatest(s.last_event_at, EXCLUDED.last_event_at),
    event_count = s.event_count + EXCLUDED.event_count,
    user_turns = s.user_turns + EXCLUDED.user_turns,
    assistant_turns = s.assistant_turns + EXCLUDED.assistant_turns,
    interruptions = s.interruptions + EXCLUDED.interruptions,
    tool_calls = s.tool_calls + EXCLUDED.tool_calls,
    tool_failures = s.tool_failures + EXCLUDED.tool_failures,
    errors = s.errors + EXCLUDED.errors,
    escalated = s.escalated OR EXCLUDED.escalated,
    updated_at = now()
"""

_UPSERT_ITEMS = """
INSERT INTO audit.item AS i (
    session_id, item_id, seq, role, occurred_at, text, interrupted, heard_text, audio_ms,
    heard_ms, speech_started_ms, speech_ended_ms, response_id)
SELECT * FROM unnest(
    $1::text[], $2::text[], $3::int[], $4::text[], $5::timestamptz[], $6::text[], $7::bool[],
    $8::text[], $9::int[], $10::int[], $11::int[], $12::int[], $13::text[])
ON CONFLICT (session_id, item_id) DO UPDATE SET
    seq = CASE WHEN EXCLUDED.text IS NOT NULL THEN EXCLUDED.seq
               WHEN i.text IS NULL THEN least(i.seq, EXCLUDED.seq) ELSE i.seq END,
    occurred_at = CASE WHEN EXCLUDED.text IS NOT NULL THEN EXCLUDED.occurred_at
                       WHEN i.text IS NULL AND EXCLUDED.seq < i.seq THEN EXCLUDED.occurred_at
                       ELSE i.occurred_at END,
    role = CASE WHEN EXCLUDED.text IS NOT NULL THEN EXCLUDED.role ELSE i.role END,
    text = coalesce(EXCLUDED.text, i.text),
    interrupted = i.interrupted OR EXCLUDED.interrupted,
    heard_text = coalesce(EXCLUDED.heard_text, i.heard_text),
    audio_ms = coalesce(EXCLUDED.audio_ms, i.audio_ms),
    heard_ms = coalesce(EXCLUDED.heard_ms, i.heard_ms),
    speech_started_ms = coalesce(EXCLUDED.speech_started_ms, i.speech_started_ms),
    speech_ended_ms = coalesce(EXCLUDED.speech_ended_ms, i.speech_ended_ms),
    response_id = coalesce(EXCLUDED.response_id, i.response_id)
"""

_UPSERT_TOOL_CALLS = """
INSERT INTO audit.tool_call AS c (
    session_id, call_id, tool, outcome, arguments, output, error_message, duration_ms, worker,
    called_seq, completed_seq, called_at, completed_at)
SELECT * FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::text[],
    $8::float8[], $9::text[], $10::int[], $11::int[], $12::timestamptz[], $13::timestamptz[])
ON CONFLICT (session_id, call_id) DO UPDATE SET
    outcome = CASE WHEN EXCLUDED.completed_seq IS NOT NULL THEN EXCLUDED.outcome
                   ELSE c.outcome END,
    arguments = coalesce(EXCLUDED.arguments, c.arguments),
    output = coalesce(EXCLUDED.output, c.output),
    error_message = coalesce(EXCLUDED.error_message, c.error_message),
    duration_ms = coalesce(EXCLUDED.duration_ms, c.duration_ms),
    worker = coalesce(EXCLUDED.worker, c.worker),
    called_seq = coalesce(EXCLUDED.called_seq, c.called_seq),
    completed_seq = coalesce(EXCLUDED.completed_seq, c.completed_seq),
    called_at = coalesce(EXCLUDED.called_at, c.called_at),
    completed_at = coalesce(EXCLUDED.completed_at, c.completed_at)
"""

_INSERT_LATENCIES = """
INSERT INTO audit.turn_latency (session_id, seq, response_id, latency_ms, occurred_at)
SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::float8[], $5::timestamptz[])
"""

_INSERT_ERRORS = """
INSERT INTO audit.session_error (session_id, seq, code, message, source, occurred_at)
SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[],
                     $6::timestamptz[])
"""


@dataclass(frozen=True)
class WriteResult:
    stored: list[ConversationEvent]
    duplicates: int


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _columns(rows: Sequence[Any], names: Sequence[str]) -> list[list[Any]]:
    return [[getattr(r, n) for r in rows] for n in names]


def is_data_error(exc: BaseException) -> bool:
    """True when Postgres refused the data itself (retrying the same rows cannot succeed), as
    opposed to a connection or server problem that may pass."""
    if not isinstance(exc, asyncpg.PostgresError) or isinstance(
        exc, asyncpg.PostgresConnectionError
    ):
        return False
    state = getattr(exc, "sqlstate", "") or ""
    # 22 data exception, 23 integrity violation, 42 syntax/access (e.g. a too-long name), 54 limits
    return state[:2] in {"22", "23", "42", "54"}


class BatchWriter:
    """Writes batches through an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, *, escalation_tools: frozenset[str]) -> None:
        self._pool = pool
        self._escalation_tools = escalation_tools

    async def write(self, events: Sequence[ConversationEvent]) -> WriteResult:
        """Store *events* (deduplicated by id) and their projections in one transaction."""
        unique = list({e.event_id: e for e in events}.values())
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetch(
                _INSERT_EVENTS,
                [e.event_id for e in unique],
                [e.session_id for e in unique],
                [e.seq for e in unique],
                [e.payload.type for e in unique],
                [e.occurred_at for e in unique],
                [e.payload.model_dump_json() for e in unique],
            )
            new_ids = {r[0] for r in inserted}
            new = [e for e in unique if e.event_id in new_ids]
            if new:
                await self._project(conn, project(new, escalation_tools=self._escalation_tools))
        return WriteResult(stored=new, duplicates=len(events) - len(new))

    async def _project(self, conn: asyncpg.Connection, p: Projection) -> None:
        if p.sessions:
            await conn.execute(
                _UPSERT_SESSIONS,
                *_columns(
                    p.sessions,
                    (
                        "id",
                        "customer_id",
                        "gateway",
                        "upstream",
                        "model",
                        "voice",
                        "language",
                        "started_at",
                        "ended_at",
                        "end_reason",
                        "end_detail",
                        "start_seq",
                        "end_seq",
                        "last_seq",
                        "last_event_at",
                        "event_count",
                        "user_turns",
                        "assistant_turns",
                        "interruptions",
                        "tool_calls",
                        "tool_failures",
                        "errors",
                        "escalated",
                    ),
                ),
            )
        if p.items:
            await conn.execute(
                _UPSERT_ITEMS,
                *_columns(
                    p.items,
                    (
                        "session_id",
                        "item_id",
                        "seq",
                        "role",
                        "occurred_at",
                        "text",
                        "interrupted",
                        "heard_text",
                        "audio_ms",
                        "heard_ms",
                        "speech_started_ms",
                        "speech_ended_ms",
                        "response_id",
                    ),
                ),
            )
        if p.tool_calls:
            cols = _columns(
                p.tool_calls,
                (
                    "session_id",
                    "call_id",
                    "tool",
                    "outcome",
                    "arguments",
                    "output",
                    "error_message",
                    "duration_ms",
                    "worker",
                    "called_seq",
                    "completed_seq",
                    "called_at",
                    "completed_at",
                ),
            )
            cols[4] = [_json(v) for v in cols[4]]
            cols[5] = [_json(v) for v in cols[5]]
            await conn.execute(_UPSERT_TOOL_CALLS, *cols)
        if p.latencies:
            await conn.execute(
                _INSERT_LATENCIES,
                *_columns(
                    p.latencies, ("session_id", "seq", "response_id", "latency_ms", "occurred_at")
                ),
            )
        if p.errors:
            await conn.execute(
                _INSERT_ERRORS,
                *_columns(
                    p.errors, ("session_id", "seq", "code", "message", "source", "occurred_at")
                ),
            )
