"""Deleting sessions: one (an admin's request) or all older than a retention period (the
``retention`` command). A session goes with everything recorded about it: its rows (the audit
tables cascade from ``audit.session``) and its recording's objects in the recording store (raw
segments and the assembled file, every key under ``{session}/``).

Order: the objects first, so a store that fails leaves the session whole (and the deletion can
be retried) rather than rows gone and audio kept with nothing pointing at it; then the rows; then
the objects once more, for a file an assembler wrote in between (it holds the session row while
it writes, so the row deletion waits for it and the second pass finds the file).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from switchboard.db.audit import Session
from switchboard.recording import RecordingStore, RecordingStoreError, session_prefix
from switchboard.store.queries import record_view

__all__ = [
    "delete_after",
    "delete_recording",
    "delete_session_rows",
    "purge_older_than",
    "session_exists",
]

log = logging.getLogger(__name__)


async def session_exists(conn: AsyncConnection, session_id: str) -> bool:
    s = Session.__table__
    return (await conn.scalar(select(func.count()).where(s.c.id == session_id))) == 1


async def delete_session_rows(conn: AsyncConnection, session_id: str) -> bool:
    """Delete the session's rows (committed by the caller); False if there was none."""
    result = await conn.execute(
        delete(Session.__table__).where(Session.__table__.c.id == session_id)
    )
    return bool(result.rowcount)


async def delete_recording(recordings: RecordingStore, session_id: str) -> int:
    """Delete every object of the session's recording; returns how many. Raises
    :class:`RecordingStoreError` when the store fails."""
    count = await recordings.delete_prefix(session_prefix(session_id))
    if count:
        log.info("recording deleted", extra={"session_id": session_id, "objects": count})
    return count


async def delete_after(recordings: RecordingStore, session_id: str) -> None:
    """The second pass once a session's rows are gone (a failure is logged, not raised)."""
    try:
        await delete_recording(recordings, session_id)
    except RecordingStoreError as exc:
        log.error(
            "recording objects may remain after the session's deletion",
            extra={"session_id": session_id, "error": str(exc)},
        )


async def purge_older_than(
    engine: AsyncEngine,
    days: float,
    *,
    recordings: RecordingStore | None = None,
    chunk: int = 1000,
    dry_run: bool = False,
) -> int:
    """Delete sessions (and everything of theirs, recordings included when *recordings* is
    given) that started more than *days* ago, a chunk per transaction so no lock is held long;
    returns how many. A recording store that fails stops the run before the chunk's rows go."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    s = Session.__table__
    old = s.c.started_at < cutoff
    if dry_run:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(s).where(old)) or 0)
    total = 0
    while True:
        async with engine.begin() as conn:
            rows = await conn.execute(
                select(s.c.id, s.c.recorded).where(old).order_by(s.c.id).limit(chunk)
            )
            ids, recorded = [], []
            for sid, flag in rows:
                ids.append(sid)
                if flag is not False:  # null: a session from before recordings, or not said
                    recorded.append(sid)
            if recordings is not None:
                for sid in recorded:
                    await delete_recording(recordings, sid)
            deleted = 0
            if ids:
                result = await conn.execute(delete(s).where(s.c.id.in_(ids)))
                deleted = int(result.rowcount or 0)
            if deleted:
                await record_view(
                    conn,
                    analyst="retention",
                    role="system",
                    action="retention",
                    detail={"days": days, "deleted": deleted, "cutoff": cutoff.isoformat()},
                )
        if recordings is not None:
            for sid in recorded:
                await delete_after(recordings, sid)
        total += deleted
        if len(ids) < chunk:
            return total
