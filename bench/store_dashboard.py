"""The dashboard part of the store bench: the rows a dashboard reads, COPY-loaded beside the
search bench's 1,000,000 items (its sessions ``bulk_0000000``..., one every 50 s), and the
API's latency for the dashboard queries over them, checked against counts taken directly.

Per session: 5 turn latencies, 1 or 2 tool calls (5 tools, about 6% failing), 5 response usages
(gpt-realtime) and their sums per session; the sessions' language, escalation and interruptions are set by the search
bench's COPY (``session_columns``); 1,000 shop customers in three tiers.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx

__all__ = ["BUDGET_MS", "load", "measure", "queries", "session_columns", "session_values"]

#: The p95 budget of a dashboard read through the API (a 30-day range over ~52,000 sessions).
BUDGET_MS = 1000.0
TOOLS = (
    "check_order_status",
    "start_return",
    "cancel_order",
    "update_address",
    "escalate_to_human",
)
TIERS = ("standard", "silver", "gold")
LANGUAGES = ("en", "en", "en", "de", "fr")

#: Extra session columns the search bench's COPY fills (language, escalated, interruptions).
session_columns = ("language", "escalated", "interruptions")


def session_values(s: int) -> tuple[str, bool, int]:
    return LANGUAGES[s % len(LANGUAGES)], s % 7 == 0, s % 3


async def load(pool: asyncpg.Pool, sessions: int, t0: datetime) -> float:
    """COPY the dashboard's rows for *sessions* bulk sessions; returns the seconds taken."""
    rng = random.Random(13)
    started = time.perf_counter()
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO shop.customer (id, name, email, phone, preferred_language, tier, street, "
            "city, region, postal_code, country) VALUES ($1, 'Bench', $2, '+100', 'en', $3, 's', "
            "'c', 'r', 'p', 'US') ON CONFLICT DO NOTHING",
            [(f"cus_{c:04d}", f"bench{c}@example.com", TIERS[c % 3]) for c in range(1000)],
        )
        await conn.copy_records_to_table(
            "turn_latency",
            schema_name="audit",
            columns=["session_id", "seq", "latency_ms", "occurred_at"],
            records=(
                (
                    f"bulk_{s:07d}",
                    2 * k + 1,
                    rng.lognormvariate(6.2, 0.4),
                    t0 + timedelta(seconds=s * 50 + 2 * k + 1),
                )
                for s in range(sessions)
                for k in range(5)
            ),
        )
        await conn.copy_records_to_table(
            "tool_call",
            schema_name="audit",
            columns=["session_id", "call_id", "tool", "outcome", "duration_ms", "called_seq"],
            records=(
                (
                    f"bulk_{s:07d}",
                    f"c{k}",
                    TOOLS[4] if s % 7 == 0 and k == 0 else TOOLS[(s + k) % 4],
                    "ok" if rng.random() > 0.06 else "not_found",
                    rng.uniform(5, 80),
                    10 + k,
                )
                for s in range(sessions)
                for k in range(1 + s % 2)
            ),
        )
        await conn.copy_records_to_table(
            "response_usage",
            schema_name="audit",
            columns=[
                "session_id",
                "seq",
                "model",
                "input_text_tokens",
                "input_audio_tokens",
                "cached_text_tokens",
                "cached_audio_tokens",
                "output_text_tokens",
                "output_audio_tokens",
                "occurred_at",
            ],
            records=(
                (
                    f"bulk_{s:07d}",
                    20 + k,
                    "gpt-realtime",
                    800 + 300 * k,
                    120 * (k + 1),
                    600 * k,
                    64 * k,
                    rng.randrange(10, 60),
                    rng.randrange(100, 600),
                    t0 + timedelta(seconds=s * 50 + 20 + k),
                )
                for s in range(sessions)
                for k in range(5)
            ),
        )
        # what the store's ingest keeps on the session row: its turn latencies
        await conn.execute(
            "UPDATE audit.session s SET latencies = t.v FROM (SELECT session_id, "
            "array_agg(latency_ms) AS v FROM audit.turn_latency GROUP BY session_id) t "
            "WHERE t.session_id = s.id"
        )
        # what the store's ingest adds up per session and model
        await conn.execute(
            "INSERT INTO audit.session_usage SELECT session_id, model, estimated, count(*), "
            "sum(input_text_tokens), sum(input_audio_tokens), sum(cached_text_tokens), "
            "sum(cached_audio_tokens), sum(output_text_tokens), sum(output_audio_tokens) "
            "FROM audit.response_usage GROUP BY 1, 2, 3"
        )
        for table in ("turn_latency", "tool_call", "response_usage", "session_usage", "session"):
            await conn.execute(f"ANALYZE audit.{table}")
        await conn.execute("ANALYZE shop.customer")
    return time.perf_counter() - started


def queries(now: datetime) -> dict[str, dict[str, Any]]:
    """The dashboard reads timed, by label (ranges end at the newest bulk session)."""
    month = {"since": (now - timedelta(days=30)).isoformat(), "until": now.isoformat()}
    return {
        "30 days, by day": month,
        "7 days, by day": {**month, "since": (now - timedelta(days=7)).isoformat()},
        "2 days, by hour": {**month, "since": (now - timedelta(days=2)).isoformat()},
        "30 days, tier gold": {**month, "tier": "gold"},
        "30 days, tool start_return": {**month, "tool": "start_return"},
        "30 days, language de, not escalated": {**month, "language": "de", "escalated": "false"},
    }


async def measure(
    http: httpx.AsyncClient, pool: asyncpg.Pool, now: datetime, n: int
) -> dict[str, list[float]]:
    """Milliseconds per read of ``/api/dashboard/charts`` (series and SVG), *n* per query;
    first checks the 30-day numbers against counts taken directly from the tables."""
    reads = queries(now)
    month = reads["30 days, by day"]
    body = (await http.get("/api/dashboard", params=month)).json()
    since, until = datetime.fromisoformat(month["since"]), datetime.fromisoformat(month["until"])
    direct = await pool.fetchrow(
        "SELECT count(*) AS calls, count(*) FILTER (WHERE escalated) AS escalated "
        "FROM audit.session WHERE started_at >= $1 AND started_at < $2",
        since,
        until,
    )
    totals = body["totals"]
    if (totals["calls"], totals["escalated"]) != (direct["calls"], direct["escalated"]):
        raise RuntimeError(f"dashboard {totals} != direct counts {dict(direct)}")
    out: dict[str, list[float]] = {}
    for label, params in reads.items():
        times = []
        for _ in range(n):
            started = time.perf_counter()
            response = await http.get("/api/dashboard/charts", params=params)
            response.raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
        out[label] = times
    return out
