"""Sessions as the analyst API shows them: the summary of a session row (its end superseded by a
later resume) and the timeline of its projections in ``seq`` order, with its usage and cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.store.costs import session_costs
from switchboard.store.pricing import PriceTable
from switchboard.store.recording_queries import recording_statuses
from switchboard.store.schemas import SessionDetail, SessionSummary, TimelineEntry

__all__ = ["is_open_again", "session_details", "summary"]


def is_open_again(m: Any) -> bool:
    """A ``session.resumed`` later than the latest ``session.ended`` (or with none stored)."""
    resume, end = m["resume_seq"], m["end_seq"]
    return resume is not None and (end is None or resume > end)


def summary(row: Any, recording: str | None = None) -> SessionSummary:
    """The summary of a session table row (without cost), with its *recording* status."""
    m = row._mapping
    started = m["started_at"]
    ended, reason = (None, None) if is_open_again(m) else (m["ended_at"], m["end_reason"])
    return SessionSummary(
        id=m["id"],
        customer_id=m["customer_id"],
        upstream=m["upstream"],
        model=m["model"],
        voice=m["voice"],
        language=m["language"],
        started_at=started,
        ended_at=ended,
        end_reason=reason,
        duration_s=(ended - started).total_seconds() if ended is not None else None,
        event_count=m["event_count"],
        missing_events=max(0, m["last_seq"] + 1 - m["event_count"]),
        user_turns=m["user_turns"],
        assistant_turns=m["assistant_turns"],
        interruptions=m["interruptions"],
        tool_calls=m["tool_calls"],
        tool_failures=m["tool_failures"],
        errors=m["errors"],
        escalated=m["escalated"],
        resumes=m["resumes"],
        recorded=bool(m["recorded"]) if m["recorded"] is not None else recording is not None,
        recording=recording,
    )


_TIMELINE_QUERIES = {
    "item": (
        "SELECT session_id, item_id, seq, role, occurred_at, text, interrupted, heard_text, "
        "heard_ms, audio_ms FROM audit.item WHERE session_id = ANY(:ids)"
    ),
    "tool": (
        "SELECT session_id, call_id, tool, arguments, output, outcome, error_message, "
        "duration_ms, worker, called_seq, completed_seq, called_at, completed_at, user_item_id "
        "FROM audit.tool_call WHERE session_id = ANY(:ids)"
    ),
    "latency": (
        "SELECT session_id, seq, occurred_at, latency_ms FROM audit.turn_latency "
        "WHERE session_id = ANY(:ids)"
    ),
    "error": (
        "SELECT session_id, seq, occurred_at, code, message, source FROM audit.session_error "
        "WHERE session_id = ANY(:ids)"
    ),
    # every end and resume (an end a later resume superseded stays on the timeline, marked)
    "lifecycle": (
        "SELECT session_id, seq, occurred_at, type, payload FROM audit.event "
        "WHERE session_id = ANY(:ids) "
        "AND type IN ('session.started', 'session.ended', 'session.resumed')"
    ),
}


def _entry(kind: str, r: Any, resume_seq: int | None) -> TimelineEntry:
    if kind == "item":
        return TimelineEntry(
            kind="user" if r.role == "user" else "assistant",
            seq=r.seq,
            at=r.occurred_at,
            item_id=r.item_id,
            text=r.text,
            interrupted=r.interrupted,
            heard_text=r.heard_text,
            heard_ms=r.heard_ms,
            audio_ms=r.audio_ms,
        )
    if kind == "tool":
        return TimelineEntry(
            kind="tool",
            seq=r.called_seq if r.called_seq is not None else r.completed_seq,
            at=r.called_at or r.completed_at,
            tool=r.tool,
            call_id=r.call_id,
            arguments=r.arguments,
            output=r.output,
            outcome=r.outcome,
            error_message=r.error_message,
            duration_ms=r.duration_ms,
            worker=r.worker,
            user_item_id=r.user_item_id,
        )
    if kind == "latency":
        return TimelineEntry(kind="latency", seq=r.seq, at=r.occurred_at, latency_ms=r.latency_ms)
    if kind == "lifecycle":
        p = r.payload
        if r.type == "session.started":
            return TimelineEntry(
                kind="session.started",
                seq=r.seq,
                at=r.occurred_at,
                verification=p.get("verification"),
            )
        if r.type == "session.resumed":
            return TimelineEntry(
                kind="session.resumed",
                seq=r.seq,
                at=r.occurred_at,
                reason=p.get("reason"),
                gateway=p.get("gateway"),
                previous_gateway=p.get("previous_gateway"),
                items_replayed=p.get("items_replayed"),
                gap_ms=p.get("gap_ms"),
            )
        return TimelineEntry(
            kind="session.ended",
            seq=r.seq,
            at=r.occurred_at,
            reason=p.get("reason"),
            superseded=resume_seq is not None and resume_seq > r.seq,
        )
    return TimelineEntry(
        kind="error", seq=r.seq, at=r.occurred_at, code=r.code, text=r.message, source=r.source
    )


async def session_details(
    conn: AsyncConnection, rows: Sequence[Any], prices: PriceTable | None = None
) -> dict[str, SessionDetail]:
    """The timelines of the sessions in *rows* (session table rows), in seq order; with
    *prices*, their usage and cost too."""
    if not rows:
        return {}
    timelines: dict[str, list[TimelineEntry]] = {}
    resumed: dict[str, int | None] = {}
    for row in rows:
        m = row._mapping
        timelines[m["id"]] = []
        resumed[m["id"]] = m["resume_seq"]
    params = {"ids": list(timelines)}
    for kind, sql in _TIMELINE_QUERIES.items():
        for r in await conn.execute(text(sql), params):
            timelines[r.session_id].append(_entry(kind, r, resumed[r.session_id]))
    costs = await session_costs(conn, list(timelines), prices) if prices is not None else {}
    recordings = await recording_statuses(conn, list(timelines))
    details = {}
    for row in rows:
        m = row._mapping
        entries = sorted(timelines[m["id"]], key=lambda e: e.seq)
        session = summary(row, recordings.get(m["id"]))
        cost = costs.get(m["id"])
        if cost is not None:
            session = session.model_copy(update=cost.fields())
        details[m["id"]] = SessionDetail(
            session=session,
            gateway=m["gateway"],
            end_detail=None if is_open_again(m) else m["end_detail"],
            timeline=entries,
            usage=cost.models if cost is not None else [],
        )
    return details
