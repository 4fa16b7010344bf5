"""Conversation store: ingest rate of one store process (draining a backlog), end-to-end lag at a
steady publish rate, and transcript search latency over at least 1,000,000 stored items.

Baselines, measured in the same run on the same database server: single-row INSERTs of the same
event rows (the naive way to write an audit trail) for ingest, and an unindexed ``ILIKE`` scan
for search (a full scan). Runs on a database and a namespace of its own, created and dropped here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import httpx

from bench.harness import BenchContext, Result, percentile
from switchboard.amqp import Topology
from switchboard.cli.db import ensure_database, migrate
from switchboard.contracts.events import (
    AssistantTranscript,
    ConversationEvent,
    SessionEnded,
    SessionStarted,
    ToolCalled,
    ToolCompleted,
    TurnLatency,
    UserTranscript,
)
from switchboard.settings import normalise_database_url
from switchboard.store.auth import hash_password

BENCH = "store"
USER, PASSWORD = "bench", "bench-password"
WORDS = [
    "order",
    "parcel",
    "delivery",
    "refund",
    "return",
    "label",
    "courier",
    "shipped",
    "tracking",
    "address",
    "invoice",
    "warranty",
    "blender",
    "headphones",
    "jacket",
    "keyboard",
    "chair",
    "vacuum",
    "kettle",
    "speaker",
    "sweater",
    "shoes",
    "tomorrow",
    "yesterday",
    "friday",
    "monday",
    "morning",
    "evening",
    "week",
    "please",
    "thanks",
    "sorry",
    "help",
    "change",
    "cancel",
    "status",
    "arrive",
    "late",
    "broken",
    "missing",
    "damaged",
    "wrong",
    "size",
    "colour",
    "replacement",
    "account",
]
#: Search terms by how often they occur in the generated transcripts.
RARE = "zephyrine"  # about 1 item in 2,000
PHRASE = '"wrong size"'


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _database_url(base: str, name: str) -> str:
    parts = urlsplit(normalise_database_url(base))
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _drop_database(url: str) -> None:
    parts = urlsplit(_dsn(url))
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")), timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parts.path.strip("/")}" WITH (FORCE)')
    finally:
        await admin.close()


def _conversation(sid: str, at: datetime, rng: random.Random) -> list[ConversationEvent]:
    call = f"call_{uuid.uuid4().hex[:12]}"
    payloads: list[Any] = [
        SessionStarted(
            customer_id=f"cus_{rng.randrange(1, 1000):04d}",
            gateway="gw-bench",
            upstream="emulator",
            model="gpt-realtime",
            voice="alloy",
            language="en",
        ),
        UserTranscript(item_id="u1", text="Where is my order 100001, it was due on Friday?"),
        ToolCalled(call_id=call, tool="check_order_status", arguments={"order_id": 100001}),
        ToolCompleted(
            call_id=call,
            tool="check_order_status",
            ok=True,
            output={"status": "shipped", "eta": "Friday"},
            duration_ms=11.0,
            worker="w1",
        ),
        TurnLatency(response_id="r1", latency_ms=rng.uniform(250, 900)),
        AssistantTranscript(
            item_id="a1",
            response_id="r1",
            audio_ms=3000,
            text="Your order has shipped and should arrive on Friday.",
        ),
        UserTranscript(item_id="u2", text="Thanks, and can I change the delivery address?"),
        SessionEnded(reason="client_closed"),
    ]
    return [
        ConversationEvent(session_id=sid, seq=i, occurred_at=at, payload=p)
        for i, p in enumerate(payloads)
    ]


class _Store:
    """One ``switchboard-store`` process; waits for ``store serving`` in its JSON logs."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "switchboard.store.main",
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        while line := await asyncio.wait_for(self.proc.stderr.readline(), 60):
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if doc.get("msg") == "http listening":
                    self.port = int(doc["port"])
                if doc.get("msg") == "store serving":
                    break
        else:
            raise RuntimeError("the store exited before serving")
        self._reader = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while await self.proc.stderr.readline():
            pass

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 - a tiny procfs read
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()


async def _publish(
    exchange: aio_pika.abc.AbstractExchange, events: list[ConversationEvent]
) -> None:
    await asyncio.gather(
        *(
            exchange.publish(
                aio_pika.Message(
                    body=e.model_dump_json().encode(),
                    content_type="application/json",
                    message_id=e.event_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=f"event.{e.payload.type}",
            )
            for e in events
        )
    )


async def _stored_total(http: httpx.AsyncClient) -> float:
    """Events the store process has stored so far (its own counter: no load on Postgres)."""
    total = 0.0
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith("switchboard_store_events_stored_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _wait_stored(http: httpx.AsyncClient, n: float, within_s: float) -> float:
    """Seconds until the store has stored *n* events in all."""
    started = time.perf_counter()
    while True:
        have = await _stored_total(http)
        if have >= n:
            return time.perf_counter() - started
        if time.perf_counter() - started > within_s:
            raise RuntimeError(f"only {have:.0f} of {n:.0f} events stored within {within_s} s")
        await asyncio.sleep(0.1)


async def _naive_insert_rate(pool: asyncpg.Pool, events: list[ConversationEvent]) -> float:
    """Rows/s of one INSERT statement per event (autocommit), the baseline."""
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TEMP TABLE raw_event (event_id text PRIMARY KEY, session_id text, seq int, "
            "type text, occurred_at timestamptz, payload jsonb)"
        )
        started = time.perf_counter()
        for e in events:
            await conn.execute(
                "INSERT INTO raw_event VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
                e.event_id,
                e.session_id,
                e.seq,
                e.payload.type,
                e.occurred_at,
                e.payload.model_dump_json(),
            )
        return len(events) / (time.perf_counter() - started)


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(6, 16))
    if rng.random() < 0.0005:
        words.insert(rng.randrange(len(words)), RARE)
    return " ".join(words).capitalize() + "."


async def _bulk_load(pool: asyncpg.Pool, items: int) -> tuple[float, float]:
    """COPY *items* transcript items (10 per session) and their sessions; rebuild the GIN index.
    Returns (copy seconds, index seconds)."""
    rng = random.Random(11)
    sessions = items // 10
    t0 = datetime.now(UTC) - timedelta(days=60)
    async with pool.acquire() as conn:
        await conn.execute("DROP INDEX audit.ix_audit_item_tsv")
        await conn.execute("DROP INDEX audit.ix_audit_item_occurred_at_id")
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "session",
            schema_name="audit",
            columns=["id", "customer_id", "started_at", "last_seq", "last_event_at", "event_count"],
            records=(
                (
                    f"bulk_{s:07d}",
                    f"cus_{s % 1000:04d}",
                    t0 + timedelta(seconds=s * 50),
                    9,
                    t0 + timedelta(seconds=s * 50 + 60),
                    10,
                )
                for s in range(sessions)
            ),
        )
        await conn.copy_records_to_table(
            "item",
            schema_name="audit",
            columns=["session_id", "item_id", "seq", "role", "text", "occurred_at"],
            records=(
                (
                    f"bulk_{i // 10:07d}",
                    f"i{i % 10}",
                    i % 10,
                    "user" if i % 2 == 0 else "assistant",
                    _sentence(rng),
                    t0 + timedelta(seconds=(i // 10) * 50 + i % 10),
                )
                for i in range(items)
            ),
        )
        copy_s = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '256MB'")
        await conn.execute("CREATE INDEX ix_audit_item_tsv ON audit.item USING gin (tsv)")
        await conn.execute(
            "CREATE INDEX ix_audit_item_occurred_at_id ON audit.item (occurred_at, id)"
        )
        await conn.execute("ANALYZE audit.item")
        await conn.execute("ANALYZE audit.session")
        return copy_s, time.perf_counter() - started


async def _timed(http: httpx.AsyncClient, path: str, params: dict[str, Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = await http.get(path, params=params)
        response.raise_for_status()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def run(ctx: BenchContext) -> list[Result]:
    backlog = 20_000 if ctx.quick else 60_000
    rate, seconds = (2_000, 5) if ctx.quick else (5_000, 10)
    items = 200_000 if ctx.quick else 1_000_000
    url = _database_url(ctx.database_url, f"benchstore_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    namespace = f"{ctx.namespace}-store"
    topology = Topology(namespace)
    connection = await aio_pika.connect_robust(
        ctx.amqp_url, client_properties={"connection_name": "switchboard-bench-store"}
    )
    store: _Store | None = None
    pool: asyncpg.Pool | None = None
    try:
        await migrate(url)
        pool = await asyncpg.create_pool(_dsn(url), min_size=1, max_size=2)
        channel = await connection.channel(publisher_confirms=True)
        await topology.declare_store_queue(channel)
        exchange = await topology.declare_events_exchange(channel)
        rng = random.Random(5)

        # -- baseline: one INSERT per event ----------------------------------------------------
        sample = [
            e for i in range(600) for e in _conversation(f"naive_{i}", datetime.now(UTC), rng)
        ]
        naive_rate = await _naive_insert_rate(pool, sample)

        # -- ingest: drain a backlog published before the store starts ---------------------------
        now = datetime.now(UTC)
        events = [e for i in range(backlog // 8) for e in _conversation(f"drain_{i:06d}", now, rng)]
        for start in range(0, len(events), 1000):
            await _publish(exchange, events[start : start + 1000])
        store = _Store(
            {
                "DATABASE_URL": url,
                "AMQP_URL": ctx.amqp_url,
                "REDIS_URL": ctx.redis_url,
                "SWITCHBOARD_NAMESPACE": namespace,
                "STORE_HTTP_PORT": "0",
                "STORE_INSTANCE_ID": "bench-store",
                "STORE_USERS": f"{USER}:analyst:{hash_password(PASSWORD)}",
            }
        )
        await store.start()
        cpu0 = store.cpu_seconds()
        metrics = httpx.AsyncClient(base_url=f"http://127.0.0.1:{store.port}", timeout=30)
        drain_s = await _wait_stored(metrics, len(events), 600)
        drain_rate = len(events) / drain_s
        cpu_per_1k = (store.cpu_seconds() - cpu0) / len(events) * 1000 * 1000

        # -- lag: a steady publish rate, lag = stored_at - occurred_at ---------------------------
        tick = 0.05
        per_tick = int(rate * tick)
        pending: list[ConversationEvent] = []
        sent = 0
        started = time.perf_counter()
        for t in range(int(seconds / tick)):
            if not pending:
                pending = [
                    e
                    for i in range(per_tick // 8 + 1)
                    for e in _conversation(f"lag_{t:04d}_{i:03d}", now, rng)
                ]
            batch, pending = pending[:per_tick], pending[per_tick:]
            stamped = [e.model_copy(update={"occurred_at": datetime.now(UTC)}) for e in batch]
            await _publish(exchange, stamped)
            sent += len(stamped)
            delay = started + (t + 1) * tick - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        published_rate = sent / (time.perf_counter() - started)
        await _wait_stored(metrics, len(events) + sent, 300)
        await metrics.aclose()
        lags = [
            float(r[0]) * 1000
            for r in await pool.fetch(
                "SELECT extract(epoch FROM stored_at - occurred_at) FROM audit.event "
                "WHERE session_id LIKE 'lag_%'"
            )
        ]
        lag_p50, lag_p99 = percentile(lags, 50), percentile(lags, 99)

        # -- search over >= 1M items ----------------------------------------------------------------
        copy_s, index_s = await _bulk_load(pool, items)
        total_items = await pool.fetchval("SELECT count(*) FROM audit.item")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{store.port}", auth=(USER, PASSWORD), timeout=60
        ) as http:
            await http.get("/api/me")  # the one scrypt check of this credential
            n = 10 if ctx.quick else 30
            rare = await _timed(http, "/api/search", {"q": RARE, "limit": 20}, n)
            common = await _timed(http, "/api/search", {"q": "refund", "limit": 20}, n)
            phrase = await _timed(http, "/api/search", {"q": PHRASE, "limit": 20}, n)
            listing = await _timed(http, "/api/sessions", {"q": RARE, "limit": 50}, n)
        async with pool.acquire() as conn:
            # what finding a word costs without the full-text index: a scan of every item
            started = time.perf_counter()
            scan_hits = await conn.fetchval(
                "SELECT count(*) FROM audit.item WHERE text ILIKE $1", f"%{RARE}%"
            )
            scan_ms = (time.perf_counter() - started) * 1000
        if not scan_hits:
            raise RuntimeError("the rare term was not generated")
    finally:
        if store is not None:
            await store.stop()
        if pool is not None:
            await pool.close()
        with contextlib.suppress(Exception):
            channel = await connection.channel()
            await topology.delete_all(channel)
        await connection.close()
        await _drop_database(url)

    return [
        Result(
            BENCH,
            "naive INSERT per event",
            naive_rate,
            "events/s",
            notes="baseline: one autocommit INSERT per event, same rows",
        ),
        Result(
            BENCH,
            "ingest, one store process",
            drain_rate,
            "events/s",
            naive_rate,
            "naive INSERT",
            target=">= 5,000/s",
            met=drain_rate >= 5000,
            notes=f"{len(events):,} events drained from RabbitMQ, projections included",
        ),
        Result(
            BENCH,
            "ingest per CPU-second of the store",
            1_000_000 / cpu_per_1k,
            "events/s",
            notes="the drain rate if the store process had a core to itself",
        ),
        Result(
            BENCH,
            "store CPU per 1,000 events",
            cpu_per_1k,
            "ms",
            notes="user+system CPU of the store process while draining",
        ),
        Result(
            BENCH,
            "steady publish rate",
            published_rate,
            "events/s",
            notes=f"asked {rate:,}/s for {seconds} s with publisher confirms, same machine",
        ),
        Result(BENCH, "end-to-end lag p50", lag_p50, "ms"),
        Result(
            BENCH,
            "end-to-end lag p99",
            lag_p99,
            "ms",
            target="<= 1,000 ms",
            met=lag_p99 <= 1000,
            notes="occurred_at (publish) -> stored_at (commit's transaction)",
        ),
        Result(
            BENCH,
            "bulk COPY of items",
            total_items / copy_s,
            "items/s",
            notes=f"{total_items:,} items (tsvector computed on load); indexes built in {index_s:.1f} s",
        ),
        Result(
            BENCH,
            "search p50, rare term",
            percentile(rare, 50),
            "ms",
            scan_ms,
            "ILIKE full scan",
            notes=f"over {total_items:,} items, via the HTTP API",
        ),
        Result(
            BENCH, "search p99, rare term", percentile(rare, 99), "ms", scan_ms, "ILIKE full scan"
        ),
        Result(
            BENCH,
            "search p50, common term",
            percentile(common, 50),
            "ms",
            notes="'refund' (about 1 item in 5): the newest 20 matches",
        ),
        Result(BENCH, "search p99, common term", percentile(common, 99), "ms"),
        Result(BENCH, "search p50, phrase", percentile(phrase, 50), "ms"),
        Result(BENCH, "session list p50, text filter", percentile(listing, 50), "ms"),
    ]
