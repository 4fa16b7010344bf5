"""Abandoned recordings: a recording whose ``recording.ended`` never came (its gateway was killed,
and no other gateway took the session over) would stay ``recording`` for ever, though its
segments, written as the call went, are in the recording store. The assemblers look for such
recordings (status ``recording``, no event of their session for ``STORE_RECORDING_IDLE_S``) and
assemble what was stored, as if the gateway had ended it with that many segments.

A live call publishes its caller channel's segments as it goes, so its session's events never
stop for that long while it lasts. Several assemblers may find the same recording: assembly is
idempotent (the same file, and ``skipped`` once it is ready).
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.contracts.events import RecordingEnded
from switchboard.recording import RecordingStore
from switchboard.store.assembler import CopyPolicy, assemble_recording
from switchboard.store.metrics import StoreMetrics

__all__ = ["abandoned_recordings", "sweep_abandoned"]

log = logging.getLogger(__name__)

_ABANDONED = text(
    "SELECT r.session_id, (SELECT count(*) FROM audit.recording_segment g "
    "WHERE g.session_id = r.session_id) AS stored, "
    "(SELECT max(g.start_ms + g.duration_ms) FROM audit.recording_segment g "
    "WHERE g.session_id = r.session_id) AS end_ms "
    "FROM audit.recording r JOIN audit.session s ON s.id = r.session_id "
    "WHERE r.status = 'recording' AND s.last_event_at < now() - make_interval(secs => :idle) "
    "ORDER BY s.last_event_at LIMIT :limit"
)


async def abandoned_recordings(
    engine: AsyncEngine, *, idle_s: float, limit: int = 20
) -> list[tuple[str, int, float]]:
    """``(session_id, segments stored, end of the last one in ms)`` of abandoned recordings."""
    async with engine.connect() as conn:
        rows = await conn.execute(_ABANDONED, {"idle": idle_s, "limit": limit})
        return [(r.session_id, int(r.stored), float(r.end_ms or 0.0)) for r in rows]


async def sweep_abandoned(
    engine: AsyncEngine,
    store: RecordingStore,
    *,
    idle_s: float,
    limit: int = 20,
    copy: CopyPolicy | None = None,
    metrics: StoreMetrics | None = None,
) -> int:
    """Assemble the abandoned recordings found now; returns how many."""
    done = 0
    for session_id, stored, end_ms in await abandoned_recordings(
        engine, idle_s=idle_s, limit=limit
    ):
        log.warning(
            "recording never ended; assembling what was stored",
            extra={"session_id": session_id, "segments": stored},
        )
        ended = RecordingEnded(segments=stored, duration_ms=end_ms)
        await assemble_recording(
            engine,
            store,
            session_id,
            ended,
            wait_s=0,
            copy=copy or CopyPolicy(),
            metrics=metrics,
        )
        done += 1
    return done
