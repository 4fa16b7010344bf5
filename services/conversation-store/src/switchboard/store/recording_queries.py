"""Reads and writes of the recording tables for the assembler and the recording API. Each
function takes an open connection; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.recording.assemble import CHANNELS, AudioFormat
from switchboard.store.recording_schemas import (
    CompressedCopy,
    RecordingTimeline,
    RecordingTool,
    RecordingTurn,
)

__all__ = [
    "StoredCopy",
    "StoredSegment",
    "lock_session",
    "mark_assembled",
    "playback_of",
    "recording_of",
    "recording_statuses",
    "recording_timeline",
    "segment_progress",
    "segments_of",
]

#: heard_ms this much short of said_ms counts as an interruption (rounding of the durations)
_CUT_TOLERANCE_MS = 1.0


@dataclass(frozen=True)
class StoredSegment:
    channel: str
    index: int
    start_ms: float
    audio_format: AudioFormat
    sample_rate: int
    key: str


@dataclass(frozen=True)
class StoredCopy:
    """A recording's compressed copy in the recording store."""

    key: str
    size: int
    content_type: str


async def recording_of(conn: AsyncConnection, session_id: str) -> Any | None:
    """The session's ``audit.recording`` row, or None."""
    return (
        await conn.execute(
            text("SELECT * FROM audit.recording WHERE session_id = :sid"), {"sid": session_id}
        )
    ).first()


async def segment_progress(conn: AsyncConnection, session_id: str) -> tuple[bool, int]:
    """Whether the session is stored, and how many of its segments are."""
    row = (
        await conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM audit.session WHERE id = :sid) AS known, "
                "(SELECT count(*) FROM audit.recording_segment WHERE session_id = :sid) AS n"
            ),
            {"sid": session_id},
        )
    ).one()
    return bool(row.known), int(row.n)


async def segments_of(conn: AsyncConnection, session_id: str) -> list[StoredSegment]:
    rows = await conn.execute(
        text(
            "SELECT channel, index, start_ms, audio_format, sample_rate, key "
            "FROM audit.recording_segment WHERE session_id = :sid ORDER BY channel, index"
        ),
        {"sid": session_id},
    )
    return [StoredSegment(*r) for r in rows]


async def lock_session(conn: AsyncConnection, session_id: str) -> bool:
    """Hold the session row against deletion until the transaction ends; False if it is gone."""
    row = await conn.execute(
        text("SELECT 1 FROM audit.session WHERE id = :sid FOR KEY SHARE"), {"sid": session_id}
    )
    return row.first() is not None


async def mark_assembled(
    conn: AsyncConnection,
    session_id: str,
    *,
    status: str,
    segments: int,
    assembled: int,
    duration_ms: float,
    sample_rate: int | None,
    file_key: str | None,
    file_size: int | None,
    file_type: str | None,
    copy: StoredCopy | None = None,
) -> None:
    """Record the assembled file and its compressed copy, if any (creating the row if the
    ingest has not yet)."""
    await conn.execute(
        text(
            "INSERT INTO audit.recording AS r (session_id, status, segments, duration_ms, "
            "sample_rate, file_key, file_size, file_type, copy_key, copy_size, copy_type, "
            "assembled_segments, assembled_at) "
            "VALUES (:sid, :status, :segments, :duration, :rate, :key, :size, :type, "
            ":copy_key, :copy_size, :copy_type, :assembled, now()) "
            "ON CONFLICT (session_id) DO UPDATE SET status = EXCLUDED.status, "
            "segments = greatest(r.segments, EXCLUDED.segments), "
            "duration_ms = EXCLUDED.duration_ms, sample_rate = EXCLUDED.sample_rate, "
            "file_key = EXCLUDED.file_key, file_size = EXCLUDED.file_size, "
            "file_type = EXCLUDED.file_type, copy_key = EXCLUDED.copy_key, "
            "copy_size = EXCLUDED.copy_size, copy_type = EXCLUDED.copy_type, "
            "assembled_segments = EXCLUDED.assembled_segments, "
            "assembled_at = EXCLUDED.assembled_at"
        ),
        {
            "sid": session_id,
            "status": status,
            "segments": segments,
            "duration": duration_ms,
            "rate": sample_rate,
            "key": file_key,
            "size": file_size,
            "type": file_type,
            "assembled": assembled,
            "copy_key": copy.key if copy else None,
            "copy_size": copy.size if copy else None,
            "copy_type": copy.content_type if copy else None,
        },
    )


async def recording_statuses(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, str]:
    """The recording status of each of *ids* that has a recording."""
    if not ids:
        return {}
    rows = await conn.execute(
        text("SELECT session_id, status FROM audit.recording WHERE session_id = ANY(:ids)"),
        {"ids": list(ids)},
    )
    return {r.session_id: r.status for r in rows}


def _offset_ms(at: datetime | None, origin: datetime) -> float | None:
    return None if at is None else (at - origin).total_seconds() * 1000


async def recording_timeline(conn: AsyncConnection, session_id: str) -> RecordingTimeline | None:
    """The recording's status and its turns and tool calls on its timeline; None when the
    session has no recording."""
    rec = (
        await conn.execute(
            text(
                "SELECT r.*, s.started_at FROM audit.recording r "
                "JOIN audit.session s ON s.id = r.session_id WHERE r.session_id = :sid"
            ),
            {"sid": session_id},
        )
    ).first()
    if rec is None:
        return None
    params = {"sid": session_id}
    turns = await conn.execute(
        text(
            "SELECT m.item_id, m.role, m.start_ms, m.end_ms, i.text, i.heard_text, "
            "i.interrupted, i.audio_ms, a.heard_ms, a.said_ms "
            "FROM audit.recording_mark m "
            "LEFT JOIN audit.item i ON i.session_id = m.session_id AND i.item_id = m.item_id "
            "LEFT JOIN (SELECT item_id, sum(duration_ms) AS heard_ms, max(said_ms) AS said_ms "
            "           FROM audit.recording_segment "
            "           WHERE session_id = :sid AND channel = 'assistant' AND item_id IS NOT NULL "
            "           GROUP BY item_id) a ON a.item_id = m.item_id "
            "WHERE m.session_id = :sid ORDER BY m.start_ms, m.item_id"
        ),
        params,
    )
    calls = await conn.execute(
        text(
            "SELECT call_id, tool, outcome, called_at, completed_at, duration_ms "
            "FROM audit.tool_call WHERE session_id = :sid"
        ),
        params,
    )
    origin: datetime = rec.started_at
    tools = sorted(
        (
            RecordingTool(
                call_id=c.call_id,
                tool=c.tool,
                outcome=c.outcome,
                at_ms=_offset_ms(c.called_at, origin),
                completed_ms=_offset_ms(c.completed_at, origin),
                duration_ms=c.duration_ms,
            )
            for c in calls
        ),
        key=lambda t: (t.at_ms is None, t.at_ms or t.completed_ms or 0.0, t.call_id),
    )
    assembled = rec.assembled_segments
    return RecordingTimeline(
        session_id=session_id,
        status=rec.status,
        duration_ms=rec.duration_ms,
        sample_rate=rec.sample_rate,
        channels=list(CHANNELS),
        segments=rec.segments,
        failed_segments=rec.failed_segments,
        missing_segments=max(0, rec.segments - assembled) if assembled is not None else 0,
        file_size=rec.file_size,
        compressed=(
            CompressedCopy(content_type=rec.copy_type, size=rec.copy_size)
            if rec.copy_key is not None
            else None
        ),
        turns=[_turn(t) for t in turns],
        tools=tools,
    )


def _turn(t: Any) -> RecordingTurn:
    if t.role != "assistant":
        return RecordingTurn(
            item_id=t.item_id, role=t.role, start_ms=t.start_ms, end_ms=t.end_ms, text=t.text
        )
    said = t.said_ms if t.said_ms is not None else t.audio_ms
    heard = t.heard_ms
    cut = heard is not None and said is not None and heard + _CUT_TOLERANCE_MS < said
    return RecordingTurn(
        item_id=t.item_id,
        role=t.role,
        start_ms=t.start_ms,
        end_ms=t.end_ms,
        text=t.text,
        heard_text=t.heard_text,
        heard_ms=heard,
        said_ms=said,
        interrupted=bool(cut or t.interrupted),
    )


async def playback_of(conn: AsyncConnection, session_id: str) -> Any | None:
    """The session (None if unknown) with its recording's status, file and compressed copy."""
    return (
        await conn.execute(
            text(
                "SELECT s.id, s.recorded, r.status, r.file_key, r.file_size, r.file_type, "
                "r.copy_key, r.copy_size, r.copy_type "
                "FROM audit.session s LEFT JOIN audit.recording r ON r.session_id = s.id "
                "WHERE s.id = :sid"
            ),
            {"sid": session_id},
        )
    ).first()
