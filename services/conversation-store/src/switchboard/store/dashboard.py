"""Dashboard time series over the audit tables: the sessions started in a range (filtered by
language, escalation, a tool used, the customer's tier), bucketed by their start (hour for
ranges up to two days, else day, UTC); per bucket calls, resolved without a human vs escalated,
cost, turn latency p50/p95, interruptions per call, and tool failure rate by tool.

Everything recorded about a session (its latencies, tool calls, usage) counts in the bucket the
session started in. The filtered sessions (with their turn latencies, copied on the session row)
are written once into a temporary table of the read's transaction, which four queries then read
(with a larger ``work_mem``, so their hash joins and sorts stay in memory); cost is the price table applied
to the summed tokens (:mod:`switchboard.store.costs`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.store.costs import usage_of
from switchboard.store.dashboard_schemas import (
    Bucket,
    BucketPoint,
    Dashboard,
    DashboardFilters,
    DashboardTotals,
    ToolPoint,
    ToolSeries,
)
from switchboard.store.pricing import PriceTable

__all__ = ["HOURLY_UP_TO", "MAX_RANGE", "bucket_for", "bucket_starts", "dashboard"]

#: Ranges up to this long are bucketed by hour, longer ones by day.
HOURLY_UP_TO = timedelta(days=2)
#: ``work_mem`` of a dashboard read (its transaction only): hash joins and sorts in memory.
WORK_MEM = "32MB"
#: The longest range a dashboard covers.
MAX_RANGE = timedelta(days=400)


def bucket_for(since: datetime, until: datetime) -> Bucket:
    return "hour" if until - since <= HOURLY_UP_TO else "day"


def _floor(at: datetime, bucket: Bucket) -> datetime:
    at = at.astimezone(UTC)
    if bucket == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> list[datetime]:
    """Every bucket the range touches, in order."""
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    at, starts = _floor(since, bucket), []
    while at < until:
        starts.append(at)
        at += step
    return starts


#: The filtered sessions of one read, written once and read by the four queries (dropped at the
#: end of the read's transaction).
_CREATE_F = """
CREATE TEMP TABLE sb_dashboard_f (
    id text, b timestamptz, escalated bool, interruptions int, latencies float8[]
) ON COMMIT DROP
"""


def _filtered(f: DashboardFilters, bucket: Bucket) -> tuple[str, dict[str, Any]]:
    """The INSERT of the filtered sessions (id, bucket ``b``, escalated, interruptions,
    latencies) into ``sb_dashboard_f``, and its parameters."""
    params: dict[str, Any] = {"since": f.since, "until": f.until, "bucket": bucket}
    joins, conds = "", ["s.started_at >= :since", "s.started_at < :until"]
    if f.language:
        conds.append("s.language = :language")
        params["language"] = f.language
    if f.escalated is not None:
        conds.append("s.escalated = :escalated")
        params["escalated"] = f.escalated
    if f.tool:
        conds.append(
            "EXISTS (SELECT 1 FROM audit.tool_call tc WHERE tc.session_id = s.id "
            "AND tc.tool = :tool)"
        )
        params["tool"] = f.tool
    if f.tier:
        joins = "JOIN shop.customer cu ON cu.id = s.customer_id"
        conds.append("cu.tier = :tier")
        params["tier"] = f.tier
    insert = (
        "INSERT INTO pg_temp.sb_dashboard_f SELECT s.id, date_trunc(:bucket, s.started_at, 'UTC'), "
        "s.escalated, s.interruptions, s.latencies "
        f"FROM audit.session s {joins} WHERE {' AND '.join(conds)}"
    )
    return insert, params


_CALLS = """
SELECT b, count(*) AS calls, count(*) FILTER (WHERE escalated) AS escalated,
       sum(interruptions) AS interruptions
FROM pg_temp.sb_dashboard_f GROUP BY b
"""
#: from the sessions' copies of their turn latencies (no join with turn_latency)
_LATENCY = """
SELECT f.b, count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY v) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY v) AS p95
FROM pg_temp.sb_dashboard_f f, unnest(f.latencies) AS v GROUP BY f.b
"""
_TOOLS = """
SELECT f.b, c.tool, count(*) AS calls,
       count(*) FILTER (WHERE c.outcome NOT IN ('ok', 'pending')) AS failures
FROM audit.tool_call c JOIN pg_temp.sb_dashboard_f f ON f.id = c.session_id
GROUP BY f.b, c.tool
"""
#: from the per-session sums (one row per session and model), not the per-response rows
_USAGE = """
SELECT f.b, f.escalated, u.model, sum(u.input_text_tokens) AS input_text,
       sum(u.input_audio_tokens) AS input_audio, sum(u.cached_text_tokens) AS cached_text,
       sum(u.cached_audio_tokens) AS cached_audio, sum(u.output_text_tokens) AS output_text,
       sum(u.output_audio_tokens) AS output_audio, sum(u.responses) AS responses,
       bool_or(u.estimated) AS estimated
FROM audit.session_usage u JOIN pg_temp.sb_dashboard_f f ON f.id = u.session_id
GROUP BY f.b, f.escalated, u.model
"""


@dataclass
class _Cost:
    usd: Decimal = Decimal(0)
    priced: int = 0
    unpriced: int = 0
    estimated: bool = False

    @property
    def value(self) -> Decimal | None:
        return self.usd if self.priced else None


def _ratio(part: int | float | Decimal, whole: int) -> Any:
    return part / whole if whole else None


async def dashboard(conn: AsyncConnection, f: DashboardFilters, prices: PriceTable) -> Dashboard:
    bucket = bucket_for(f.since, f.until)
    insert, params = _filtered(f, bucket)
    await conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    await conn.execute(text(_CREATE_F))
    await conn.execute(text(insert), params)
    calls = {r.b: r for r in await conn.execute(text(_CALLS))}
    latency = {r.b: r for r in await conn.execute(text(_LATENCY))}
    tools: dict[str, dict[datetime, Any]] = defaultdict(dict)
    for r in await conn.execute(text(_TOOLS)):
        tools[r.tool][r.b] = r
    costs: dict[datetime, _Cost] = defaultdict(_Cost)
    resolved_cost, total_cost, unpriced_models = _Cost(), _Cost(), set()
    for r in await conn.execute(text(_USAGE)):
        cost = prices.cost(r.model, usage_of(r))
        responses = int(r.responses)
        targets = [costs[r.b], total_cost] + ([] if r.escalated else [resolved_cost])
        for c in targets:
            c.estimated = c.estimated or bool(r.estimated)
            if cost is None:
                c.unpriced += responses
            else:
                c.usd += cost
                c.priced += responses
        if cost is None:
            unpriced_models.add(r.model)

    points = []
    for start in bucket_starts(f.since, f.until, bucket):
        row, lat, cost = calls.get(start), latency.get(start), costs.get(start, _Cost())
        n = int(row.calls) if row else 0
        esc = int(row.escalated) if row else 0
        intr = int(row.interruptions) if row else 0
        points.append(
            BucketPoint(
                start=start,
                calls=n,
                resolved=n - esc,
                escalated=esc,
                interruptions=intr,
                interruptions_per_call=_ratio(intr, n),
                latency_turns=int(lat.n) if lat else 0,
                latency_p50_ms=lat.p50 if lat else None,
                latency_p95_ms=lat.p95 if lat else None,
                cost_usd=cost.value,
                cost_estimated=cost.estimated,
                unpriced_responses=cost.unpriced,
            )
        )
    series = []
    for tool, by_bucket in tools.items():
        tool_points = []
        for p in points:
            hit = by_bucket.get(p.start)
            n, failed = (int(hit.calls), int(hit.failures)) if hit else (0, 0)
            tool_points.append(
                ToolPoint(start=p.start, calls=n, failures=failed, failure_rate=_ratio(failed, n))
            )
        series.append(
            ToolSeries(
                tool=tool,
                calls=sum(p.calls for p in tool_points),
                failures=sum(p.failures for p in tool_points),
                points=tool_points,
            )
        )
    series.sort(key=lambda s: (-s.calls, s.tool))
    n = sum(p.calls for p in points)
    esc = sum(p.escalated for p in points)
    totals = DashboardTotals(
        calls=n,
        resolved=n - esc,
        escalated=esc,
        interruptions_per_call=_ratio(sum(p.interruptions for p in points), n),
        cost_usd=total_cost.value,
        cost_per_call_usd=_ratio(total_cost.usd, n) if total_cost.priced else None,
        cost_per_resolved_call_usd=(
            _ratio(resolved_cost.usd, n - esc) if resolved_cost.priced else None
        ),
        cost_estimated=total_cost.estimated,
        unpriced_responses=total_cost.unpriced,
        unpriced_models=sorted(unpriced_models),
    )
    return Dashboard(filters=f, bucket=bucket, points=points, tools=series, totals=totals)
