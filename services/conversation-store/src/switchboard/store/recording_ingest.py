"""The recording projections: ``recording.segment``, ``recording.mark`` and ``recording.ended``
into ``audit.recording_segment``, ``audit.recording_mark`` and ``audit.recording``, and
``session.started``'s ``recording`` into ``audit.session.recorded``.

Called by the writer inside its transaction, after the session rows are upserted, with the new
events only (so a redelivered event changes nothing). Every merge is order independent, like the
other projections: a segment is inserted once per ``(session, channel, index)``; a mark keeps the
earliest start and latest end it was given (an assistant segment with an ``item_id`` is also that
item's mark, from its start to its start plus its heard length: gateways since 2026-12-05 send
no ``recording.mark`` for an item they have a segment of); ``recording.ended`` sets the totals (the greatest seen)
and moves the status to ``ended`` unless the assembler already made it ``ready``/``empty`` (then
the duration stays the file's);
``recorded`` comes from the ``session.started`` whose ``seq`` is the session's ``start_seq``.

:func:`recording_rows` is pure (no I/O); :func:`write_recordings` runs its SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from switchboard.contracts.events import (
    ConversationEvent,
    RecordingEnded,
    RecordingMark,
    RecordingSegment,
    SessionStarted,
)

__all__ = ["RecordingRows", "recording_rows", "write_recordings"]

_SEGMENT = """
INSERT INTO audit.recording_segment (session_id, channel, index, start_ms, duration_ms,
    audio_format, sample_rate, key, size, item_id, said_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (session_id, channel, index) DO NOTHING
"""
#: a recording's row appears with its first segment (status ``recording``)
_RECORDING = """
INSERT INTO audit.recording AS r (session_id, audio_format, sample_rate) VALUES ($1, $2, $3)
ON CONFLICT (session_id) DO UPDATE SET
    audio_format = coalesce(r.audio_format, EXCLUDED.audio_format),
    sample_rate = greatest(r.sample_rate, EXCLUDED.sample_rate)
"""
_MARK = """
INSERT INTO audit.recording_mark AS m (session_id, item_id, role, start_ms, end_ms)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (session_id, item_id) DO UPDATE SET
    role = EXCLUDED.role,
    start_ms = least(m.start_ms, EXCLUDED.start_ms),
    end_ms = greatest(m.end_ms, EXCLUDED.end_ms)
"""
_ENDED = """
INSERT INTO audit.recording AS r (session_id, status, segments, failed_segments, duration_ms,
    ended_at)
VALUES ($1, 'ended', $2, $3, $4, $5)
ON CONFLICT (session_id) DO UPDATE SET
    status = CASE WHEN r.status IN ('ready', 'empty') THEN r.status ELSE 'ended' END,
    segments = greatest(r.segments, EXCLUDED.segments),
    failed_segments = greatest(r.failed_segments, EXCLUDED.failed_segments),
    duration_ms = CASE WHEN r.status IN ('ready', 'empty') THEN r.duration_ms
                       ELSE greatest(r.duration_ms, EXCLUDED.duration_ms) END,
    ended_at = greatest(r.ended_at, EXCLUDED.ended_at)
"""
_RECORDED = "UPDATE audit.session SET recorded = $2 WHERE id = $1 AND start_seq = $3"


@dataclass
class RecordingRows:
    """The recording rows of a batch of new events, each list in key order (the lock order)."""

    segments: list[tuple[Any, ...]] = field(default_factory=list)
    recordings: list[tuple[str, str, int]] = field(default_factory=list)
    marks: list[tuple[Any, ...]] = field(default_factory=list)
    ended: list[tuple[str, int, int, float, datetime]] = field(default_factory=list)
    recorded: list[tuple[str, bool, int]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.segments or self.marks or self.ended or self.recorded)


def recording_rows(events: Iterable[ConversationEvent]) -> RecordingRows:
    """What *events* (new ones) add to the recording tables. Pure."""
    out = RecordingRows()
    recordings: dict[str, tuple[str, str, int]] = {}
    marks: dict[tuple[str, str], tuple[Any, ...]] = {}
    for event in events:
        p, sid = event.payload, event.session_id
        # ``type(p) is``: see switchboard.store.projection
        if type(p) is RecordingSegment:
            out.segments.append(
                (
                    sid,
                    p.channel,
                    p.index,
                    p.start_ms,
                    p.duration_ms,
                    p.audio_format,
                    p.sample_rate,
                    p.key,
                    p.size,
                    p.item_id,
                    p.said_ms,
                )
            )
            known = recordings.get(sid)
            if known is None or p.sample_rate > known[2]:
                recordings[sid] = (sid, known[1] if known else p.audio_format, p.sample_rate)
            if p.channel == "assistant" and p.item_id is not None:
                # an assistant item's mark is its segment's place (gateways send no mark for it)
                _mark(marks, sid, p.item_id, "assistant", p.start_ms, p.start_ms + p.duration_ms)
        elif type(p) is RecordingMark:
            _mark(marks, sid, p.item_id, p.role, p.start_ms, p.end_ms)
        elif type(p) is RecordingEnded:
            out.ended.append((sid, p.segments, p.failed_segments, p.duration_ms, event.occurred_at))
        elif type(p) is SessionStarted and p.recording is not None:
            out.recorded.append((sid, p.recording, event.seq))
    out.segments.sort(key=lambda r: (r[0], r[1], r[2]))
    out.recordings = [recordings[k] for k in sorted(recordings)]
    out.marks = [marks[k] for k in sorted(marks)]
    out.ended.sort(key=lambda r: r[0])
    return out


def _mark(
    marks: dict[tuple[str, str], tuple[Any, ...]],
    sid: str,
    item_id: str,
    role: str,
    start_ms: float,
    end_ms: float | None,
) -> None:
    """One mark row per (session, item): the earliest start, the latest end (as ``_MARK``)."""
    key = (sid, item_id)
    row = (sid, item_id, role, start_ms, end_ms)
    if (seen := marks.get(key)) is not None:
        ends = [e for e in (seen[4], end_ms) if e is not None]
        row = (sid, item_id, role, min(seen[3], start_ms), max(ends, default=None))
    marks[key] = row


async def write_recordings(conn: asyncpg.Connection, events: Iterable[ConversationEvent]) -> None:
    """Write the recording rows of *events* (inside the caller's transaction, after the session
    rows)."""
    rows = recording_rows(events)
    if not rows:
        return
    if rows.recorded:
        await conn.executemany(_RECORDED, rows.recorded)
    if rows.recordings:
        await conn.executemany(_RECORDING, rows.recordings)
    if rows.ended:
        await conn.executemany(_ENDED, rows.ended)
    if rows.segments:
        await conn.executemany(_SEGMENT, rows.segments)
    if rows.marks:
        await conn.executemany(_MARK, rows.marks)
