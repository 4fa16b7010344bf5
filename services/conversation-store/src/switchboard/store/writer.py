"""Writes a batch of conversation events and their projections in one Postgres transaction.

``INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING event_id`` tells which events are new;
only those are projected, so a redelivered or duplicated event changes nothing. Upserts merge with
an existing row by the same order-independent rules as :mod:`switchboard.store.projection`.

The rows go in by binary ``COPY``: into temporary staging tables of the connection (created if
missing in each transaction, emptied at each commit), from which one ``INSERT ... SELECT ... ON
CONFLICT`` per table merges them in key order (a stable lock order, so concurrent store processes
cannot deadlock); latencies and errors, which never conflict, are copied straight into their
tables, and so are response usages (their ``(session_id, seq)`` is unique, and only new
events are projected). COPY costs the store less than half the CPU of the same rows sent as ``unnest`` arrays
(asyncpg inspects every array element to find the array's shape), and Postgres less too. Staging
columns have the types of the old array parameters, so a refused value fails where it did, with
the same SQLSTATE.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

import asyncpg

from switchboard.contracts.events import ConversationEvent
from switchboard.store.projection import (
    Projection,
    SessionUsageRow,
    ToolCallRow,
    UsageRow,
    project,
)
from switchboard.store.recording_ingest import write_recordings

__all__ = ["BatchWriter", "StagingUnavailable", "WriteResult", "is_data_error"]

_EVENT_COLUMNS = ("event_id", "session_id", "seq", "type", "occurred_at", "payload")
_SESSION_COLUMNS = (
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
    "resume_seq",
    "resumes",
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
    "latencies",
)
_ITEM_COLUMNS = (
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
)
#: the staging table's columns are the projection's tool-call fields, in order
_TOOL_CALL_COLUMNS = tuple(f.name for f in fields(ToolCallRow))
_LATENCY_COLUMNS = ("session_id", "seq", "response_id", "latency_ms", "occurred_at")
_ERROR_COLUMNS = ("session_id", "seq", "code", "message", "source", "occurred_at")
#: the table's columns are the projection's usage fields, in order
_USAGE_COLUMNS = tuple(f.name for f in fields(UsageRow))
_SESSION_USAGE_COLUMNS = tuple(f.name for f in fields(SessionUsageRow))
_TOKEN_COLUMNS = _SESSION_USAGE_COLUMNS[3:]

#: The staging tables (one simple-query round trip; a no-op on a connection that has them).
_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS sb_event_in (
    event_id text, session_id text, seq int, type text, occurred_at timestamptz, payload jsonb
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS sb_session_in (
    id text, customer_id text, gateway text, upstream text, model text, voice text,
    language text, started_at timestamptz, ended_at timestamptz, end_reason text,
    end_detail text, start_seq int, end_seq int, resume_seq int, resumes int, last_seq int,
    last_event_at timestamptz, event_count int, user_turns int, assistant_turns int, interruptions int, tool_calls int,
    tool_failures int, errors int, escalated bool, latencies float8[]
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS sb_item_in (
    session_id text, item_id text, seq int, role text, occurred_at timestamptz, text text,
    interrupted bool, heard_text text, audio_ms int, heard_ms int, speech_started_ms int,
    speech_ended_ms int, response_id text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS sb_tool_call_in (
    session_id text, call_id text, tool text, outcome text, arguments jsonb, output jsonb,
    error_message text, duration_ms float8, worker text, called_seq int, completed_seq int,
    called_at timestamptz, completed_at timestamptz, user_item_id text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS sb_session_usage_in (
    session_id text, model text, estimated bool, responses int, input_text_tokens bigint,
    input_audio_tokens bigint, cached_text_tokens bigint, cached_audio_tokens bigint,
    output_text_tokens bigint, output_audio_tokens bigint
) ON COMMIT DELETE ROWS;
"""

_INSERT_EVENTS = """
INSERT INTO audit.event (event_id, session_id, seq, type, occurred_at, payload)
SELECT event_id, session_id, seq, type, occurred_at, payload FROM pg_temp.sb_event_in
ORDER BY event_id
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

_UPSERT_SESSIONS = f"""
INSERT INTO audit.session AS s ({", ".join(_SESSION_COLUMNS)})
SELECT {", ".join(_SESSION_COLUMNS)} FROM pg_temp.sb_session_in ORDER BY id
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
    resume_seq = greatest(s.resume_seq, EXCLUDED.resume_seq),
    resumes = s.resumes + EXCLUDED.resumes,
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
    latencies = s.latencies || EXCLUDED.latencies,
    updated_at = now()
"""

_UPSERT_ITEMS = f"""
INSERT INTO audit.item AS i ({", ".join(_ITEM_COLUMNS)})
SELECT {", ".join(_ITEM_COLUMNS)} FROM pg_temp.sb_item_in ORDER BY session_id, item_id
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

_UPSERT_TOOL_CALLS = f"""
INSERT INTO audit.tool_call AS c ({", ".join(_TOOL_CALL_COLUMNS)})
SELECT {", ".join(_TOOL_CALL_COLUMNS)} FROM pg_temp.sb_tool_call_in ORDER BY session_id, call_id
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
    completed_at = coalesce(EXCLUDED.completed_at, c.completed_at),
    user_item_id = coalesce(EXCLUDED.user_item_id, c.user_item_id)
"""


_UPSERT_SESSION_USAGE = f"""
INSERT INTO audit.session_usage AS u ({", ".join(_SESSION_USAGE_COLUMNS)})
SELECT {", ".join(_SESSION_USAGE_COLUMNS)} FROM pg_temp.sb_session_usage_in
ORDER BY session_id, model, estimated
ON CONFLICT (session_id, model, estimated) DO UPDATE SET
    {", ".join(f"{c} = u.{c} + EXCLUDED.{c}" for c in _TOKEN_COLUMNS)}
"""


class StagingUnavailable(RuntimeError):
    """The staging tables could not be created (say, the role lacks the database's TEMPORARY
    privilege). Not a data error: the batch is retried like an outage, never dead-lettered."""


@dataclass(frozen=True)
class WriteResult:
    stored: list[ConversationEvent]
    duplicates: int


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _row_getter(names: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    return attrgetter(*names)


_SESSION_ROW = _row_getter(_SESSION_COLUMNS)
_ITEM_ROW = _row_getter(_ITEM_COLUMNS)
_TOOL_CALL_ROW = _row_getter(_TOOL_CALL_COLUMNS)
_LATENCY_ROW = _row_getter(_LATENCY_COLUMNS)
_ERROR_ROW = _row_getter(_ERROR_COLUMNS)
_USAGE_ROW = _row_getter(_USAGE_COLUMNS)
_SESSION_USAGE_ROW = _row_getter(_SESSION_USAGE_COLUMNS)


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
        if not events:
            return WriteResult(stored=[], duplicates=0)
        unique = list({e.event_id: e for e in events}.values())
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                await conn.execute(_STAGING)
            except asyncpg.PostgresError as exc:
                if is_data_error(exc):
                    raise StagingUnavailable(f"cannot create the staging tables: {exc}") from exc
                raise
            await _copy(
                conn,
                "sb_event_in",
                _EVENT_COLUMNS,
                (
                    (
                        e.event_id,
                        e.session_id,
                        e.seq,
                        e.payload.type,
                        e.occurred_at,
                        e.payload.model_dump_json(),
                    )
                    for e in unique
                ),
            )
            inserted = await conn.fetch(_INSERT_EVENTS)
            if len(inserted) == len(unique):
                new = unique
            else:
                new_ids = {r[0] for r in inserted}
                new = [e for e in unique if e.event_id in new_ids]
            if new:
                await self._project(conn, project(new, escalation_tools=self._escalation_tools))
                await write_recordings(conn, new)
        return WriteResult(stored=new, duplicates=len(events) - len(new))

    async def _project(self, conn: asyncpg.Connection, p: Projection) -> None:
        if p.sessions:
            await _copy(conn, "sb_session_in", _SESSION_COLUMNS, map(_SESSION_ROW, p.sessions))
            await conn.execute(_UPSERT_SESSIONS)
        if p.items:
            await _copy(conn, "sb_item_in", _ITEM_COLUMNS, map(_ITEM_ROW, p.items))
            await conn.execute(_UPSERT_ITEMS)
        if p.tool_calls:
            rows = (
                (*row[:4], _json(row[4]), _json(row[5]), *row[6:])
                for row in map(_TOOL_CALL_ROW, p.tool_calls)
            )
            await _copy(conn, "sb_tool_call_in", _TOOL_CALL_COLUMNS, rows)
            await conn.execute(_UPSERT_TOOL_CALLS)
        if p.latencies:
            await _copy(
                conn, "turn_latency", _LATENCY_COLUMNS, map(_LATENCY_ROW, p.latencies), "audit"
            )
        if p.errors:
            await _copy(conn, "session_error", _ERROR_COLUMNS, map(_ERROR_ROW, p.errors), "audit")
        if p.usage:
            await _copy(conn, "response_usage", _USAGE_COLUMNS, map(_USAGE_ROW, p.usage), "audit")
            await _copy(
                conn,
                "sb_session_usage_in",
                _SESSION_USAGE_COLUMNS,
                map(_SESSION_USAGE_ROW, p.session_usage),
            )
            await conn.execute(_UPSERT_SESSION_USAGE)


async def _copy(
    conn: asyncpg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    schema: str = "pg_temp",
) -> None:
    await conn.copy_records_to_table(table, records=rows, columns=list(columns), schema_name=schema)
