"""The dashboard API over real HTTP: its numbers equal what independent SQL over the audit
tables gives (calls, resolved vs escalated, cost, latency percentiles, tool failure rates,
interruptions), for every filter, by hour or by day; its reads are audited; charts have axes."""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from switchboard.store.service import StoreService
from tests.store.conftest import ACCOUNTS, Publisher, WaitStored
from tests.store.factories import conversation, usage

ANALYST = ("ana", ACCOUNTS["ana"][0])
#: A range no other test writes into (they use recent times).
BASE = datetime(2021, 3, 1, tzinfo=UTC)
#: gpt-realtime's default prices per 1M tokens, written out independently of the code
PRICE = {
    "input_text_tokens": Decimal("4.00"),
    "cached_text_tokens": Decimal("0.40"),
    "input_audio_tokens": Decimal("32.00"),
    "cached_audio_tokens": Decimal("0.40"),
    "output_text_tokens": Decimal("16.00"),
    "output_audio_tokens": Decimal("64.00"),
}


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30, auth=ANALYST) as client:
        yield client


@pytest.fixture(scope="module")
async def seeded(
    store: StoreService, publisher: Publisher, wait_stored: WaitStored, db: asyncpg.Pool
) -> list[str]:
    """Forty conversations over three days of March 2021: two languages, two customer tiers,
    tools that fail, escalations, interruptions, varied latencies and usage (one unpriced)."""
    rng = random.Random(20)
    customers = {"gold": f"cg_{uuid.uuid4().hex[:8]}", "standard": f"cs_{uuid.uuid4().hex[:8]}"}
    for tier, cid in customers.items():
        await db.execute(
            "INSERT INTO shop.customer (id, name, email, phone, preferred_language, tier, street, "
            "city, region, postal_code, country) VALUES ($1, 'Test', $2, '+100', 'en', $3, 's', "
            "'c', 'r', 'p', 'US')",
            cid,
            f"{cid}@example.com",
            tier,
        )
    ids = []
    for i in range(40):
        tool = rng.choice(["check_order_status", "start_return", "escalate_to_human"])
        events = conversation(
            customer_id=customers[rng.choice(["gold", "standard"])],
            started_at=BASE + timedelta(minutes=rng.randrange(3 * 24 * 60)),
            tool=tool,
            tool_ok=rng.random() < 0.7,
            interrupted=rng.random() < 0.5,
            latency_ms=float(rng.randrange(200, 2000)),
            language=rng.choice(["en", "de"]),
            usages=[
                usage(
                    "acme-voice-1" if i == 7 else "gpt-realtime",
                    text_in=rng.randrange(100, 3000),
                    cached_text=rng.randrange(0, 100),
                    audio_in=rng.randrange(100, 900),
                    cached_audio=rng.randrange(0, 100),
                    text_out=rng.randrange(0, 200),
                    audio_out=rng.randrange(0, 900),
                    estimated=i % 3 == 0,
                )
                for _ in range(rng.randrange(0, 3))
            ],
        )
        await publisher.publish(*events)
        ids.append((events[0].session_id, len(events)))
    for sid, n in ids:
        await wait_stored(sid, n)
    return [sid for sid, _ in ids]


def _percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (what percentile_cont computes)."""
    if not values:
        return None
    v = sorted(values)
    pos = p * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


async def _expected(db: asyncpg.Pool, since: datetime, until: datetime, **flt: Any) -> dict:  # type: ignore[type-arg]
    """The dashboard computed from raw audit rows, filtered and bucketed in Python."""
    sessions = await db.fetch(
        "SELECT s.id, s.started_at, s.language, s.escalated, s.interruptions, c.tier "
        "FROM audit.session s LEFT JOIN shop.customer c ON c.id = s.customer_id "
        "WHERE s.started_at >= $1 AND s.started_at < $2",
        since,
        until,
    )
    calls = await db.fetch(
        "SELECT session_id, tool, outcome FROM audit.tool_call WHERE session_id = ANY($1)",
        [s["id"] for s in sessions],
    )
    tools_of = defaultdict(set)
    for c in calls:
        tools_of[c["session_id"]].add(c["tool"])
    hourly = until - since <= timedelta(days=2)

    def bucket(at: datetime) -> datetime:
        at = at.astimezone(UTC)
        return (
            at.replace(minute=0, second=0, microsecond=0)
            if hourly
            else at.replace(hour=0, minute=0, second=0, microsecond=0)
        )

    kept = {
        s["id"]: s
        for s in sessions
        if (flt.get("language") is None or s["language"] == flt["language"])
        and (flt.get("escalated") is None or s["escalated"] == flt["escalated"])
        and (flt.get("tool") is None or flt["tool"] in tools_of[s["id"]])
        and (flt.get("tier") is None or s["tier"] == flt["tier"])
    }
    out: dict[str, Any] = {"calls": defaultdict(int), "escalated": defaultdict(int)}
    out["interruptions"] = defaultdict(int)
    for s in kept.values():
        b = bucket(s["started_at"])
        out["calls"][b] += 1
        out["escalated"][b] += int(s["escalated"])
        out["interruptions"][b] += s["interruptions"]
    lat = defaultdict(list)
    for r in await db.fetch(
        "SELECT session_id, latency_ms FROM audit.turn_latency WHERE session_id = ANY($1)",
        list(kept),
    ):
        lat[bucket(kept[r["session_id"]]["started_at"])].append(r["latency_ms"])
    out["p50"] = {b: _percentile(v, 0.5) for b, v in lat.items()}
    out["p95"] = {b: _percentile(v, 0.95) for b, v in lat.items()}
    tools: dict[str, dict[datetime, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for c in calls:
        if c["session_id"] in kept:
            t = tools[c["tool"]][bucket(kept[c["session_id"]]["started_at"])]
            t[0] += 1
            t[1] += int(c["outcome"] not in ("ok", "pending"))
    out["tools"] = tools
    cost: dict[datetime, Decimal] = defaultdict(Decimal)
    unpriced: dict[datetime, int] = defaultdict(int)
    resolved_cost = Decimal(0)
    for u in await db.fetch(
        "SELECT * FROM audit.response_usage WHERE session_id = ANY($1)", list(kept)
    ):
        b = bucket(kept[u["session_id"]]["started_at"])
        if u["model"] != "gpt-realtime":
            unpriced[b] += 1
            continue
        c = (
            (u["input_text_tokens"] - u["cached_text_tokens"]) * PRICE["input_text_tokens"]
            + u["cached_text_tokens"] * PRICE["cached_text_tokens"]
            + (u["input_audio_tokens"] - u["cached_audio_tokens"]) * PRICE["input_audio_tokens"]
            + u["cached_audio_tokens"] * PRICE["cached_audio_tokens"]
            + u["output_text_tokens"] * PRICE["output_text_tokens"]
            + u["output_audio_tokens"] * PRICE["output_audio_tokens"]
        ) / Decimal(1_000_000)
        cost[b] += c
        if not kept[u["session_id"]]["escalated"]:
            resolved_cost += c
    out["cost"], out["unpriced"], out["resolved_cost"] = cost, unpriced, resolved_cost
    return out


def _check(d: dict[str, Any], exp: dict[str, Any]) -> None:
    points = {datetime.fromisoformat(p["start"]): p for p in d["points"]}
    assert sum(p["calls"] for p in d["points"]) == sum(exp["calls"].values())
    for b, p in points.items():
        assert p["calls"] == exp["calls"].get(b, 0), b
        assert p["escalated"] == exp["escalated"].get(b, 0), b
        assert p["resolved"] == p["calls"] - p["escalated"]
        if p["calls"]:
            assert p["interruptions_per_call"] == pytest.approx(
                exp["interruptions"][b] / p["calls"]
            )
        assert p["latency_p50_ms"] == pytest.approx(exp["p50"].get(b)), b
        assert p["latency_p95_ms"] == pytest.approx(exp["p95"].get(b)), b
        want = exp["cost"].get(b)
        assert (Decimal(p["cost_usd"]) if p["cost_usd"] is not None else None) == want, b
        assert p["unpriced_responses"] == exp["unpriced"].get(b, 0)
    assert {t["tool"] for t in d["tools"]} == set(exp["tools"])
    for t in d["tools"]:
        for tp in t["points"]:
            b = datetime.fromisoformat(tp["start"])
            n, failed = exp["tools"][t["tool"]].get(b, [0, 0])
            assert (tp["calls"], tp["failures"]) == (n, failed)
            assert tp["failure_rate"] == (pytest.approx(failed / n) if n else None)
    total = sum(exp["cost"].values(), Decimal(0))
    assert Decimal(d["totals"]["cost_usd"]) == total
    resolved, per_resolved = d["totals"]["resolved"], d["totals"]["cost_per_resolved_call_usd"]
    if resolved:
        assert Decimal(per_resolved) == exp["resolved_cost"] / resolved
    else:
        assert per_resolved is None
    calls = d["totals"]["calls"]
    assert Decimal(d["totals"]["cost_per_call_usd"]) == total / calls


@pytest.mark.parametrize(
    "flt",
    [
        {},
        {"language": "de"},
        {"escalated": False},
        {"escalated": True},
        {"tool": "start_return"},
        {"tier": "gold"},
        {"tier": "standard", "language": "en"},
    ],
)
async def test_daily_numbers_equal_independent_sql(
    http: httpx.AsyncClient, db: asyncpg.Pool, seeded: list[str], flt: dict[str, Any]
) -> None:
    """Over three days (day buckets), every number matches the raw audit rows, per filter."""
    since, until = BASE, BASE + timedelta(days=3)
    params = {"since": since.isoformat(), "until": until.isoformat(), **flt}
    d = (await http.get("/api/dashboard", params=params)).json()
    assert d["bucket"] == "day" and len(d["points"]) == 3
    _check(d, await _expected(db, since, until, **flt))


async def test_hourly_buckets_for_a_short_range(
    http: httpx.AsyncClient, db: asyncpg.Pool, seeded: list[str]
) -> None:
    """A one-day range has 24 hourly buckets, with the same numbers as the raw rows."""
    since, until = BASE + timedelta(days=1), BASE + timedelta(days=2)
    params = {"since": since.isoformat(), "until": until.isoformat()}
    d = (await http.get("/api/dashboard", params=params)).json()
    assert d["bucket"] == "hour" and len(d["points"]) == 24
    _check(d, await _expected(db, since, until))
    assert d["totals"]["unpriced_models"] in ([], ["acme-voice-1"])


async def test_dashboard_reads_are_audited_and_ranges_bounded(
    http: httpx.AsyncClient, db: asyncpg.Pool, seeded: list[str]
) -> None:
    """Each read is in the view log with its filters; a reversed range has no buckets and a
    too long one is cut to its last 400 days."""
    params = {"since": BASE.isoformat(), "until": (BASE + timedelta(days=3)).isoformat()}
    assert (await http.get("/api/dashboard/charts", params={**params, "tier": "gold"})).is_success
    row = await db.fetchrow(
        "SELECT analyst, detail FROM audit.view_log WHERE action = 'dashboard' ORDER BY id DESC"
    )
    assert row["analyst"] == "ana" and '"tier": "gold"' in row["detail"]
    bad = {"since": params["until"], "until": params["since"]}
    empty = (await http.get("/api/dashboard", params=bad)).json()
    assert empty["points"] == [] and empty["totals"]["calls"] == 0
    long = {"since": "2020-01-01T00:00:00Z", "until": "2021-06-01T00:00:00Z"}
    cut = (await http.get("/api/dashboard", params=long)).json()
    assert cut["filters"]["since"] == "2020-04-27T00:00:00Z" and len(cut["points"]) == 400


async def test_charts_have_labelled_axes_and_follow_the_filters(
    http: httpx.AsyncClient, seeded: list[str]
) -> None:
    """Five SVG charts with titles, axis labels and one bar per call count; a filter changes them."""
    params = {"since": BASE.isoformat(), "until": (BASE + timedelta(days=3)).isoformat()}
    body = (await http.get("/api/dashboard/charts", params=params)).json()
    assert [c["id"] for c in body["charts"]] == [
        "calls",
        "cost",
        "latency",
        "tools",
        "interruptions",
    ]
    calls = body["charts"][0]["svg"]
    assert calls.startswith("<svg") and "session start (day, UTC)" in calls and ">calls<" in calls
    assert "01 Mar" in calls and 'data-series="escalated"' in calls
    german = (await http.get("/api/dashboard/charts", params={**params, "language": "de"})).json()
    assert german["charts"][0]["svg"] != calls
    assert german["dashboard"]["totals"]["calls"] < body["dashboard"]["totals"]["calls"]
