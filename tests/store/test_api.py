"""The analyst API over real HTTP: authentication and roles on every endpoint, filters and
keyset pagination, timelines, search snippets, exports, statistics, live sessions, admin
actions, the view log and retention."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from switchboard.keys import RedisKeys
from switchboard.store.service import StoreService
from tests.store.conftest import ACCOUNTS, Publisher, WaitStored
from tests.store.factories import conversation

ANALYST = ("ana", ACCOUNTS["ana"][0])
ADMIN = ("root", ACCOUNTS["root"][0])


@pytest.fixture(scope="module")
async def seeded(
    publisher: Publisher, wait_stored: WaitStored, store: StoreService
) -> dict[str, Any]:
    """Three conversations of one (unique) customer on three days: a plain one, a failed tool
    call, an escalation; plus their ids."""
    customer = f"cus_api_{uuid.uuid4().hex[:6]}"
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    a = conversation(customer_id=customer, started_at=base, user_text="Where is my parcel please")
    b = conversation(
        customer_id=customer,
        started_at=base + timedelta(days=1),
        tool_ok=False,
        user_text="The blender arrived broken",
        reply="I am sorry the blender arrived broken, let me help with a return.",
        latency_ms=900,
    )
    c = conversation(
        customer_id=customer,
        started_at=base + timedelta(days=2),
        tool="escalate_to_human",
        user_text="I want to speak to a human agent",
        interrupted=False,
        end_reason="idle",
        latency_ms=300,
    )
    for events in (a, b, c):
        await publisher.publish(*events)
    for events in (a, b, c):
        await wait_stored(events[0].session_id, len(events))
    return {
        "customer": customer,
        "base": base,
        "ids": [a[0].session_id, b[0].session_id, c[0].session_id],
    }


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


def _routes(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        for method in item
        if path.startswith("/api/")
    ]


def _concrete(path: str) -> str:
    return path.replace("{session_id}", "sess_none")


async def test_every_endpoint_refuses_missing_or_wrong_credentials(
    http: httpx.AsyncClient,
) -> None:
    """Each /api route in the OpenAPI document answers 401 without credentials, with a wrong
    password and with an unknown name, and asks for Basic auth."""
    routes = _routes((await http.get("/api/openapi.json")).json())
    assert len(routes) >= 9
    for method, path in routes:
        for auth in (None, ("ana", "wrong"), ("nobody", "x")):
            response = await http.request(method, _concrete(path), auth=auth)
            assert response.status_code == 401, (method, path, auth, response.text)
            assert response.headers["www-authenticate"].startswith("Basic")


async def test_analysts_cannot_use_admin_endpoints(http: httpx.AsyncClient) -> None:
    """The analyst role gets 403 on the admin routes (delete, end, view log); the admin does
    not."""
    admin_only = [
        ("DELETE", "/api/sessions/sess_none"),
        ("POST", "/api/live/sess_none/end"),
        ("GET", "/api/view-log"),
    ]
    for method, path in admin_only:
        assert (await http.request(method, path, auth=ANALYST)).status_code == 403
        assert (await http.request(method, path, auth=ADMIN)).status_code != 403
    assert (await http.get("/api/me", auth=ANALYST)).json() == {"name": "ana", "role": "analyst"}


async def test_filters_and_keyset_pagination(
    http: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    """Filters narrow the list; pages of one follow the keyset cursor newest first."""
    a, b, c = seeded["ids"]
    cust = {"customer_id": seeded["customer"]}

    async def ids(**params: Any) -> list[str]:
        r = await http.get("/api/sessions", params={**cust, **params}, auth=ANALYST)
        assert r.status_code == 200, r.text
        return [s["id"] for s in r.json()["sessions"]]

    assert await ids() == [c, b, a]
    assert await ids(escalated="true") == [c]
    assert await ids(escalated="false") == [b, a]
    assert await ids(outcome="failed") == [b]
    assert await ids(outcome="not_found") == [b]
    assert await ids(tool="escalate_to_human") == [c]
    assert await ids(q="blender") == [b]
    assert await ids(end_reason="idle") == [c]
    since = (seeded["base"] + timedelta(hours=12)).isoformat()
    until = (seeded["base"] + timedelta(days=1, hours=12)).isoformat()
    assert await ids(since=since, until=until) == [b]
    seen, cursor = [], None
    while True:
        params = {**cust, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await http.get("/api/sessions", params=params, auth=ANALYST)).json()
        seen += [s["id"] for s in page["sessions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c, b, a]
    bad = await http.get("/api/sessions", params={"cursor": "nonsense"}, auth=ANALYST)
    assert bad.status_code == 400


async def test_timeline_is_in_seq_order_and_views_are_audited(
    http: httpx.AsyncClient, seeded: dict[str, Any], db: asyncpg.Pool
) -> None:
    """A session's timeline lists start, utterances, the tool card, latency, interruption and end
    in seq order; the read is in the view log with who and when."""
    sid = seeded["ids"][0]
    detail = (await http.get(f"/api/sessions/{sid}", auth=ANALYST)).json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds == ["session.started", "user", "tool", "latency", "assistant", "session.ended"]
    seqs = [e["seq"] for e in detail["timeline"]]
    assert seqs == sorted(seqs)
    tool = detail["timeline"][2]
    assert tool["arguments"] == {"order_id": 100001} and tool["outcome"] == "ok"
    # the customer's turn the call came after (for a confirmation: the turn that said yes)
    assert detail["timeline"][1]["item_id"] == "item_u1" and tool["user_item_id"] == "item_u1"
    assistant = detail["timeline"][4]
    assert assistant["interrupted"] is True and assistant["heard_ms"] == 1500
    assert detail["session"]["customer_id"] == seeded["customer"]
    row = await db.fetchrow(
        "SELECT analyst, role, at FROM audit.view_log WHERE session_id = $1 AND action = 'view' "
        "ORDER BY at DESC LIMIT 1",
        sid,
    )
    assert row is not None and (row["analyst"], row["role"]) == ("ana", "analyst")
    log = (await http.get("/api/view-log", params={"session_id": sid}, auth=ADMIN)).json()
    assert any(e["analyst"] == "ana" and e["action"] == "view" for e in log)
    missing = await http.get("/api/sessions/sess_none", auth=ANALYST)
    assert missing.status_code == 404


async def test_search_highlights_matches(http: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    """Search finds both utterances about the blender (stemmed) with <mark> snippets."""
    r = await http.get(
        "/api/search",
        params={"q": "blenders broken", "customer_id": seeded["customer"]},
        auth=ANALYST,
    )
    hits = r.json()["hits"]
    assert {h["role"] for h in hits} == {"user", "assistant"}
    assert all(h["session_id"] == seeded["ids"][1] for h in hits)
    assert all("<mark>blender</mark>" in h["snippet"] for h in hits)


async def test_exports_stream_jsonl_and_csv(
    http: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    """JSON Lines has one session per line with its timeline; CSV one row per entry."""
    params = {"customer_id": seeded["customer"]}
    r = await http.get("/api/export", params={**params, "format": "jsonl"}, auth=ANALYST)
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [d["session"]["id"] for d in lines] == seeded["ids"][::-1]
    assert all(d["timeline"] for d in lines)
    r = await http.get("/api/export", params={**params, "format": "csv"}, auth=ANALYST)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["session_id"] for row in rows} == set(seeded["ids"])
    assert any(row["kind"] == "user" and "blender" in row["text"] for row in rows)


async def test_stats(http: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    """Statistics over a range holding only the seeded sessions count days, tools, latency
    percentiles and escalations."""
    base = seeded["base"]
    # the range of these three sessions; other tests' sessions start "now - 5 minutes"
    params = {
        "since": (base - timedelta(minutes=1)).isoformat(),
        "until": (base + timedelta(days=2, minutes=1)).isoformat(),
    }
    stats = (await http.get("/api/stats", params=params, auth=ANALYST)).json()
    assert stats["sessions"] == 3 and stats["escalated"] == 1
    assert stats["escalation_rate"] == pytest.approx(1 / 3)
    assert [d["sessions"] for d in stats["per_day"]] == [1, 1, 1]
    tools = {t["tool"]: t for t in stats["tools"]}
    assert tools["check_order_status"]["calls"] == 2
    assert tools["check_order_status"]["failure_rate"] == 0.5
    assert stats["latency"]["turns"] == 3 and stats["latency"]["p50_ms"] == 420
    assert stats["end_reasons"] == {"client_closed": 2, "idle": 1}


async def test_live_sessions_and_admin_end(
    http: httpx.AsyncClient, redis_client: aioredis.Redis, store_namespace: str
) -> None:
    """Live sessions come from the gateway registry (expired entries skipped); an admin's end
    request is published on the session's control channel."""
    keys = RedisKeys(store_namespace)
    sid, gone = f"live_{uuid.uuid4().hex[:8]}", f"gone_{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).timestamp()
    await redis_client.hset(
        keys.session(sid),
        mapping={
            "customer_id": "cus_0002",
            "gateway": "gw-1",
            "started_at": str(now),
            "upstream": "emulator",
            "model": "gpt-realtime",
        },
    )
    await redis_client.zadd(keys.sessions_index, {sid: now, gone: now - 10})
    live = (await http.get("/api/live", auth=ANALYST)).json()
    assert [s["session_id"] for s in live] == [sid]
    assert live[0]["customer_id"] == "cus_0002"
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(keys.session_control(sid))
    try:
        r = await http.post(f"/api/live/{sid}/end", auth=ADMIN)
        assert r.json() == {"session_id": sid, "requested": True, "gateways": 1}
        message = None
        for _ in range(100):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message:
                break
        assert message is not None and message["data"] == "end"
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
    await asyncio.sleep(0)


async def test_admin_deletes_a_session(
    http: httpx.AsyncClient, publisher: Publisher, wait_stored: WaitStored, db: asyncpg.Pool
) -> None:
    """Deleting a session removes its events and projections; the deletion is logged."""
    events = conversation()
    sid = events[0].session_id
    await publisher.publish(*events)
    await wait_stored(sid, len(events))
    assert (await http.delete(f"/api/sessions/{sid}", auth=ADMIN)).status_code == 204
    for table in ("session", "event", "item", "tool_call", "turn_latency"):
        column = "id" if table == "session" else "session_id"
        count = await db.fetchval(f"SELECT count(*) FROM audit.{table} WHERE {column} = $1", sid)
        assert count == 0, table
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit.view_log WHERE session_id = $1 AND action = 'delete'", sid
        )
        == 1
    )
    assert (await http.delete(f"/api/sessions/{sid}", auth=ADMIN)).status_code == 404


async def test_retention_command_deletes_old_sessions_only(
    publisher: Publisher,
    wait_stored: WaitStored,
    db: asyncpg.Pool,
    store_database_url: str,
    seeded: dict[str, Any],
) -> None:
    """``switchboard-store retention --days 30`` (as cron would run it) deletes a 100-day-old
    session and keeps recent ones."""
    import os
    import sys

    old = conversation(started_at=datetime.now(UTC) - timedelta(days=100))
    await publisher.publish(*old)
    await wait_stored(old[0].session_id, len(old))
    env = {**os.environ, "DATABASE_URL": store_database_url, "LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "switchboard.store.main",
        "retention",
        "--days",
        "30",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().startswith("deleted 1 session(s)")
    assert (
        await db.fetchval("SELECT count(*) FROM audit.session WHERE id = $1", old[0].session_id)
        == 0
    )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit.event WHERE session_id = $1", old[0].session_id
        )
        == 0
    )
    kept = await db.fetchval("SELECT count(*) FROM audit.session WHERE id = ANY($1)", seeded["ids"])
    assert kept == 3


async def test_api_requests_are_counted_in_metrics(http: httpx.AsyncClient) -> None:
    """/metrics counts API requests by route template and status, refusals included."""
    await http.get("/api/sessions/sess_none", auth=ANALYST)
    await http.get("/api/me")
    text = (await http.get("/metrics")).text
    assert (
        'switchboard_store_api_requests_total{route="/api/sessions/{session_id}",status="404"}'
        in text
    )
    assert 'switchboard_store_api_requests_total{route="/api/me",status="401"}' in text
