"""Reads of the audit tables for the analyst API: session lists with filters and keyset
pagination, timelines, full-text search with highlighted snippets, statistics, the view log
(deletion and retention are in :mod:`switchboard.store.deletion`). Each function takes an open
connection; the API decides what to audit."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from switchboard.db.audit import TEXT_SEARCH_CONFIG, Item, Session, ToolCall, ViewLog
from switchboard.store.costs import session_costs
from switchboard.store.pricing import PriceTable
from switchboard.store.recording_queries import recording_statuses
from switchboard.store.schemas import (
    DayCount,
    LatencyStats,
    SearchHit,
    SessionDetail,
    SessionSummary,
    Stats,
    ToolStats,
    ViewLogEntry,
)
from switchboard.store.timeline import session_details, summary

__all__ = [
    "BadCursor",
    "SessionFilter",
    "iter_sessions",
    "list_sessions",
    "record_view",
    "search_items",
    "session_detail",
    "stats",
    "view_log",
]


class BadCursor(ValueError):
    """A pagination cursor that this API did not make."""


def encode_cursor(at: datetime, key: str | int) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), key]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, Any]:
    try:
        at, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), key
    except Exception as exc:
        raise BadCursor("invalid cursor") from exc


def _tsquery(q: str) -> Any:
    return func.websearch_to_tsquery(text(f"'{TEXT_SEARCH_CONFIG}'::regconfig"), q)


@dataclass(frozen=True)
class SessionFilter:
    """What an analyst narrows the session list (and exports) to."""

    since: datetime | None = None
    until: datetime | None = None
    customer_id: str | None = None
    tool: str | None = None
    outcome: str | None = None
    escalated: bool | None = None
    end_reason: str | None = None
    q: str | None = None

    def conditions(self) -> list[Any]:
        s = Session.__table__.c
        conds: list[Any] = []
        if self.since is not None:
            conds.append(s.started_at >= self.since)
        if self.until is not None:
            conds.append(s.started_at < self.until)
        if self.customer_id:
            conds.append(s.customer_id == self.customer_id)
        if self.escalated is not None:
            conds.append(s.escalated.is_(self.escalated))
        if self.end_reason:
            # an end superseded by a later resume is no end
            conds.append(s.end_reason == self.end_reason)
            conds.append(s.end_seq > func.coalesce(s.resume_seq, -1))
        if self.tool or self.outcome:
            c = ToolCall.__table__.c
            call = [c.session_id == s.id]
            if self.tool:
                call.append(c.tool == self.tool)
            if self.outcome == "failed":
                call.append(c.outcome.notin_(("ok", "pending")))
            elif self.outcome:
                call.append(c.outcome == self.outcome)
            conds.append(exists().where(and_(*call)))
        if self.q and self.q.strip():
            i = Item.__table__.c
            conds.append(
                exists().where(and_(i.session_id == s.id, i.tsv.op("@@")(_tsquery(self.q))))
            )
        return conds

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in vars(self).items()
            if v is not None
        }


async def list_sessions(
    conn: AsyncConnection,
    flt: SessionFilter,
    *,
    limit: int,
    cursor: str | None,
    prices: PriceTable | None = None,
) -> tuple[list[SessionSummary], str | None]:
    """Newest first; keyset pagination on (started_at, id)."""
    s = Session.__table__
    query = select(s).where(*flt.conditions())
    if cursor:
        at, key = decode_cursor(cursor)
        query = query.where(tuple_(s.c.started_at, s.c.id) < tuple_(at, str(key)))
    query = query.order_by(s.c.started_at.desc(), s.c.id.desc()).limit(limit + 1)
    rows = (await conn.execute(query)).all()
    more = len(rows) > limit
    recordings = await recording_statuses(conn, [r.id for r in rows[:limit]])
    sessions = [summary(r, recordings.get(r.id)) for r in rows[:limit]]
    if prices is not None:
        costs = await session_costs(conn, [s.id for s in sessions], prices)
        sessions = [
            s.model_copy(update=costs[s.id].fields()) if s.id in costs else s for s in sessions
        ]
    nxt = encode_cursor(sessions[-1].started_at, sessions[-1].id) if more else None
    return sessions, nxt


async def iter_sessions(
    engine: AsyncEngine, flt: SessionFilter, *, page: int = 200, prices: PriceTable | None = None
) -> AsyncIterator[SessionDetail]:
    """Every matching session with its timeline, newest first, a page at a time (for export):
    one list query and five timeline queries per page."""
    s = Session.__table__
    cursor: str | None = None
    while True:
        async with engine.connect() as conn:
            summaries, cursor = await list_sessions(conn, flt, limit=page, cursor=cursor)
            ids = [summary.id for summary in summaries]
            rows = (await conn.execute(select(s).where(s.c.id.in_(ids)))).all() if ids else []
            details = await session_details(conn, rows, prices)
        for sid in ids:
            if sid in details:
                yield details[sid]
        if cursor is None:
            return


async def session_detail(
    conn: AsyncConnection, session_id: str, prices: PriceTable | None = None
) -> SessionDetail | None:
    s = Session.__table__
    rows = (await conn.execute(select(s).where(s.c.id == session_id))).all()
    return (await session_details(conn, rows, prices)).get(session_id)


_SEARCH = f"""
SELECT i.id, i.session_id, i.seq, i.role, i.occurred_at, s.customer_id,
       ts_headline('{TEXT_SEARCH_CONFIG}', coalesce(i.text, ''), q,
                   'StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MaxWords=18, MinWords=6')
           AS snippet
FROM audit.item i
JOIN audit.session s ON s.id = i.session_id,
     websearch_to_tsquery('{TEXT_SEARCH_CONFIG}', :q) q
WHERE i.tsv @@ q {{where}}
ORDER BY i.occurred_at DESC, i.id DESC
LIMIT :limit
"""


async def search_items(
    conn: AsyncConnection,
    q: str,
    *,
    limit: int,
    cursor: str | None,
    customer_id: str | None = None,
) -> tuple[list[SearchHit], str | None]:
    """Transcript items matching *q* (web search syntax: words, "phrases", -not, or), newest
    first, with highlighted snippets (computed for the returned page only)."""
    params: dict[str, Any] = {"q": q, "limit": limit + 1}
    where = ""
    if cursor:
        after_at, after_id = decode_cursor(cursor)
        if not isinstance(after_id, int):
            raise BadCursor("invalid cursor")
        where += " AND (i.occurred_at, i.id) < (:after_at, :after_id)"
        params.update(after_at=after_at, after_id=after_id)
    if customer_id:
        where += " AND s.customer_id = :customer_id"
        params["customer_id"] = customer_id
    rows = (await conn.execute(text(_SEARCH.format(where=where)), params)).all()
    more = len(rows) > limit
    hits = [
        SearchHit(
            session_id=r.session_id,
            seq=r.seq,
            role=r.role,
            at=r.occurred_at,
            customer_id=r.customer_id,
            snippet=r.snippet,
        )
        for r in rows[:limit]
    ]
    nxt = encode_cursor(rows[limit - 1].occurred_at, rows[limit - 1].id) if more else None
    return hits, nxt


async def stats(conn: AsyncConnection, since: datetime, until: datetime) -> Stats:
    p = {"since": since, "until": until}
    in_range = "s.started_at >= :since AND s.started_at < :until"
    totals = (
        await conn.execute(
            text(
                "SELECT count(*) AS n, count(*) FILTER (WHERE escalated) AS esc, "
                "count(*) FILTER (WHERE interruptions > 0) AS intr "
                f"FROM audit.session s WHERE {in_range}"
            ),
            p,
        )
    ).one()
    per_day = [
        DayCount(day=r.day, sessions=r.n)
        for r in await conn.execute(
            text(
                "SELECT (s.started_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n "
                f"FROM audit.session s WHERE {in_range} GROUP BY 1 ORDER BY 1"
            ),
            p,
        )
    ]
    tools = [
        ToolStats(
            tool=r.tool,
            calls=r.calls,
            failures=r.failures,
            failure_rate=(r.failures / r.calls) if r.calls else 0.0,
            p50_ms=r.p50,
            p95_ms=r.p95,
        )
        for r in await conn.execute(
            text(
                "SELECT c.tool, count(*) AS calls, "
                "count(*) FILTER (WHERE c.outcome NOT IN ('ok', 'pending')) AS failures, "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY c.duration_ms) AS p50, "
                "percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms) AS p95 "
                f"FROM audit.tool_call c JOIN audit.session s ON s.id = c.session_id WHERE {in_range} "
                "GROUP BY c.tool ORDER BY calls DESC, c.tool"
            ),
            p,
        )
    ]
    lat = (
        await conn.execute(
            text(
                "SELECT count(*) AS n, "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY t.latency_ms) AS p50, "
                "percentile_cont(0.9) WITHIN GROUP (ORDER BY t.latency_ms) AS p90, "
                "percentile_cont(0.99) WITHIN GROUP (ORDER BY t.latency_ms) AS p99 "
                f"FROM audit.turn_latency t JOIN audit.session s ON s.id = t.session_id WHERE {in_range}"
            ),
            p,
        )
    ).one()
    reasons = {
        r.reason: r.n
        for r in await conn.execute(
            text(
                "SELECT CASE WHEN s.end_seq > coalesce(s.resume_seq, -1) THEN s.end_reason "
                "ELSE 'live or unknown' END AS reason, count(*) AS n "
                f"FROM audit.session s WHERE {in_range} GROUP BY 1 ORDER BY 2 DESC"
            ),
            p,
        )
    }
    n = int(totals.n)
    return Stats(
        since=since,
        until=until,
        sessions=n,
        escalated=int(totals.esc),
        escalation_rate=(totals.esc / n) if n else 0.0,
        interrupted_sessions=int(totals.intr),
        per_day=per_day,
        tools=tools,
        latency=LatencyStats(turns=int(lat.n), p50_ms=lat.p50, p90_ms=lat.p90, p99_ms=lat.p99),
        end_reasons=reasons,
    )


async def record_view(
    conn: AsyncConnection,
    *,
    analyst: str,
    role: str,
    action: str,
    session_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append to the view log (committed by the caller)."""
    await conn.execute(
        insert(ViewLog.__table__).values(
            analyst=analyst, role=role, action=action, session_id=session_id, detail=detail
        )
    )


async def view_log(
    conn: AsyncConnection, *, session_id: str | None, analyst: str | None, limit: int
) -> list[ViewLogEntry]:
    v = ViewLog.__table__
    query = select(v)
    if session_id:
        query = query.where(v.c.session_id == session_id)
    if analyst:
        query = query.where(v.c.analyst == analyst)
    rows = (await conn.execute(query.order_by(v.c.at.desc(), v.c.id.desc()).limit(limit))).all()
    return [
        ViewLogEntry(
            analyst=r.analyst,
            role=r.role,
            action=r.action,
            session_id=r.session_id,
            detail=r.detail,
            at=r.at,
        )
        for r in rows
    ]
