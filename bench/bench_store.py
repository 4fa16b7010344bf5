"""Conversation store: what issue 6 asks, in one run.

- Ingest capacity of one store process: a backlog is published first, then one store process
  starts and drains it, so no publisher competes with it for the cores. Reported as events/s
  (wall clock, on this machine as loaded as it is) and per CPU-second of the store process (what
  it would do with a core to itself). Twice: published one event per message (what quiet
  gateways send) and as busy gateways send it (what their publisher flushes at once, one
  message per payload type), since the store's cost is mostly per message.
- End-to-end lag at a steady publish rate (5,000 events/s by default): ``occurred_at`` is stamped
  as each event is published (by a publisher process of its own); lag to the commit comes from
  the store's own histogram (observed after each commit), lag to the transaction's start from
  each row's ``stored_at``. The rate the publisher reached is reported. Twice: as busy gateways
  send (what fell due every 5 ms, one message per payload type) and one event per message (many
  quiet gateways), the store's costliest case.
- Transcript search latency over 1,000,000 COPY-loaded items, through the HTTP API.
- Dashboard reads (time series and their SVG charts, ``/api/dashboard/charts``) over the same
  sessions with their latencies, tool calls and usage (``bench/store_dashboard.py``), through the
  HTTP API, against a p95 budget; the numbers checked against counts taken directly.

Baselines, measured in the same run on the same servers: one autocommit INSERT per event (the
naive way to write an audit trail) for the ingest rate; a consumer that only receives and
acknowledges the same messages with the same client, prefetch and batch size (what the AMQP
client alone costs) for the store's CPU per event; an unindexed ``ILIKE`` scan for search. Runs
on a database and a namespace of its own, created and dropped here. ``STORE_*`` variables in the
environment reach the store process (to try other batch sizes or prefetch counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import httpx

from bench import store_dashboard
from bench.harness import BenchContext, Result, percentile, stack
from bench.store_load import conversation
from switchboard.amqp import Topology
from switchboard.cli.db import drop_database, ensure_database, migrate
from switchboard.cli.stack import Service
from switchboard.contracts.events import ConversationEvent, group_by_type
from switchboard.gateway.broker import EVENT_BATCH as GATEWAY_FLUSH
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


async def _publish(
    exchange: aio_pika.abc.AbstractExchange, events: list[ConversationEvent], per_flush: int
) -> int:
    """Publish *events* as a gateway's publisher would, taking *per_flush* at a time: one
    message per payload type of each flush. Returns the number of messages."""
    groups = [
        group
        for start in range(0, len(events), per_flush)
        for group in group_by_type(events[start : start + per_flush]).values()
    ]
    messages = [Topology.event_message(group) for group in groups]
    await asyncio.gather(*(exchange.publish(m, routing_key=key) for m, key in messages))
    return len(groups)


async def _metrics(http: httpx.AsyncClient) -> dict[str, float]:
    """The store process's own counters (no load on Postgres): events stored in all, and the
    cumulative buckets of its ingest lag histogram (``le`` -> count)."""
    out: dict[str, float] = {"stored": 0.0}
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith("switchboard_store_events_stored_total{"):
            out["stored"] += float(line.rsplit(" ", 1)[1])
        elif line.startswith("switchboard_store_ingest_lag_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[f"le {le}"] = float(line.rsplit(" ", 1)[1])
    return out


async def _wait_stored(http: httpx.AsyncClient, n: float, within_s: float) -> float:
    """Seconds until the store has stored *n* events in all (its counter, polled every 0.1 s)."""
    started = time.perf_counter()
    while True:
        have = (await _metrics(http))["stored"]
        if have >= n:
            return time.perf_counter() - started
        if time.perf_counter() - started > within_s:
            raise RuntimeError(f"only {have:.0f} of {n:.0f} events stored within {within_s} s")
        await asyncio.sleep(0.1)


def _lag_quantile(before: dict[str, float], after: dict[str, float], q: float) -> float:
    """The upper bound (seconds) of the histogram bucket holding quantile *q* of what was
    observed between two scrapes: "the lag of q of the events was at most this"."""
    buckets = sorted(
        (float(k[3:]), after[k] - before.get(k, 0.0)) for k in after if k.startswith("le ")
    )
    total = buckets[-1][1]
    for bound, count in buckets:
        if count >= q * total:
            return bound
    return float("inf")


async def _helper(*args: str, env: dict[str, str]) -> dict[str, Any]:
    """Run ``python -m bench.store_load ARGS`` and return the JSON it prints."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.store_load",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench.store_load {args[0]} failed ({proc.returncode})")
    doc: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return doc


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


async def _bulk_load(pool: asyncpg.Pool, items: int, t0: datetime) -> tuple[float, float]:
    """COPY *items* transcript items (10 per session, one session every 50 s from *t0*) and
    their sessions; rebuild the GIN index. Returns (copy seconds, index seconds)."""
    rng = random.Random(11)
    sessions = items // 10
    async with pool.acquire() as conn:
        await conn.execute("DROP INDEX audit.ix_audit_item_tsv")
        await conn.execute("DROP INDEX audit.ix_audit_item_occurred_at_id")
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "session",
            schema_name="audit",
            columns=[
                "id",
                "customer_id",
                "started_at",
                "last_seq",
                "last_event_at",
                "event_count",
                *store_dashboard.session_columns,
            ],
            records=(
                (
                    f"bulk_{s:07d}",
                    f"cus_{s % 1000:04d}",
                    t0 + timedelta(seconds=s * 50),
                    9,
                    t0 + timedelta(seconds=s * 50 + 60),
                    10,
                    *store_dashboard.session_values(s),
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
    store: Service | None = None
    processes = stack(LOG_FORMAT="json", LOG_LEVEL="INFO")
    pool: asyncpg.Pool | None = None
    load_at_start = os.getloadavg()[0]
    try:
        await migrate(url)
        pool = await asyncpg.create_pool(_dsn(url), min_size=1, max_size=2)
        channel = await connection.channel(publisher_confirms=True)
        await topology.declare_store_queue(channel)
        exchange = await topology.declare_events_exchange(channel)
        rng = random.Random(5)
        helper_env = {"AMQP_URL": ctx.amqp_url}

        # -- baseline: one INSERT per event ----------------------------------------------------
        sample = [e for i in range(600) for e in conversation(f"naive_{i}", datetime.now(UTC), rng)]
        naive_rate = await _naive_insert_rate(pool, sample)

        async def publish_backlog(prefix: str, per_flush: int) -> tuple[int, int]:
            """(events, messages) published before a consumer starts."""
            now = datetime.now(UTC)
            events = [
                e for i in range(backlog // 8) for e in conversation(f"{prefix}_{i:06d}", now, rng)
            ]
            messages = 0
            for start in range(0, len(events), 1024):
                messages += await _publish(exchange, events[start : start + 1024], per_flush)
            return len(events), messages

        store_env = {
            "DATABASE_URL": url,
            "AMQP_URL": ctx.amqp_url,
            "REDIS_URL": ctx.redis_url,
            "SWITCHBOARD_NAMESPACE": namespace,
            "STORE_HTTP_PORT": "0",
            "STORE_INSTANCE_ID": "bench-store",
            "STORE_USERS": f"{USER}:analyst:{hash_password(PASSWORD)}",
        }

        async def drain(prefix: str, per_flush: int) -> dict[str, float]:
            """Publish a backlog, start a store process, time it draining the backlog. The
            store is left running (in ``store``)."""
            nonlocal store
            published, messages = await publish_backlog(prefix, per_flush)
            store = processes.add(
                "store",
                "switchboard.store.main",
                module="switchboard.store.main",
                env=store_env,
                health_url=None,
                ready_logs=("http listening", "store serving"),
            )
            await store.start()
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{store.port}", timeout=30
            ) as metrics:
                cpu0, stored0 = store.cpu_seconds(), (await _metrics(metrics))["stored"]
                load = os.getloadavg()[0]
                seconds = await _wait_stored(metrics, published, 600)
            drained = published - stored0  # the few stored before the clock started are left out
            return {
                "rate": drained / seconds,
                "cpu_us": (store.cpu_seconds() - cpu0) / drained * 1e6,
                "drained": drained,
                "per_message": published / messages,
                "load": load,
            }

        # -- baseline: the AMQP client alone (receive + acknowledge, nothing else) ----------------
        floor_events, _ = await publish_backlog("floor", 1)
        floor = await _helper(
            "consume",
            "--queue",
            topology.store_events_queue,
            "--count",
            str(floor_events),
            "--prefetch",
            os.environ.get("STORE_PREFETCH", "2000"),
            "--batch",
            os.environ.get("STORE_BATCH_SIZE", "500"),
            env=helper_env,
        )
        floor_cpu_us = floor["cpu_s"] / floor["consumed"] * 1e6

        # -- ingest capacity: drain a backlog published before the store starts, as one event
        # per message (quiet gateways) and as busy gateways send it (64 events per flush) -------
        single = await drain("single", 1)
        assert store is not None
        await store.stop()
        batched = await drain("drain", GATEWAY_FLUSH)
        drain_rate, drain_cpu_us = batched["rate"], batched["cpu_us"]
        assert store is not None
        metrics = httpx.AsyncClient(base_url=f"http://127.0.0.1:{store.port}", timeout=30)

        # -- lag: a publisher process at a steady rate, occurred_at stamped at publish; as busy
        # gateways send (what fell due, one message per type) and as quiet ones (one per message)
        async def steady(prefix: str, batch: int) -> dict[str, Any]:
            assert store is not None and pool is not None
            before = await _metrics(metrics)
            cpu0 = store.cpu_seconds()
            published = await _helper(
                "publish",
                "--exchange",
                topology.events_exchange,
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
                "--prefix",
                prefix,
                "--batch",
                str(batch),
                env=helper_env,
            )
            await _wait_stored(metrics, before["stored"] + published["published"], 300)
            after = await _metrics(metrics)
            lags = [
                float(r[0]) * 1000
                for r in await pool.fetch(
                    "SELECT extract(epoch FROM stored_at - occurred_at) FROM audit.event "
                    "WHERE session_id LIKE $1",
                    f"{prefix}_%",
                )
            ]
            if len(lags) != published["published"]:
                raise RuntimeError(f"{len(lags)} of {published['published']} lag events stored")
            return {
                **published,
                "cpu_us": (store.cpu_seconds() - cpu0) / published["published"] * 1e6,
                "within_1s": (after["le 1.0"] - before["le 1.0"])
                / (after["le +Inf"] - before["le +Inf"]),
                "commit_p99": _lag_quantile(before, after, 0.99),
                "p50": percentile(lags, 50),
                "p99": percentile(lags, 99),
            }

        lag = await steady("lag", GATEWAY_FLUSH)
        quiet = await steady("quiet", 1)
        await metrics.aclose()

        # -- search over >= 1M items ----------------------------------------------------------------
        t0 = datetime.now(UTC) - timedelta(days=60)
        copy_s, index_s = await _bulk_load(pool, items, t0)
        total_items = await pool.fetchval("SELECT count(*) FROM audit.item")
        dash_load_s = await store_dashboard.load(pool, items // 10, t0)
        newest = t0 + timedelta(seconds=(items // 10) * 50)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{store.port}", auth=(USER, PASSWORD), timeout=60
        ) as http:
            await http.get("/api/me")  # the one scrypt check of this credential
            n = 10 if ctx.quick else 30
            rare = await _timed(http, "/api/search", {"q": RARE, "limit": 20}, n)
            common = await _timed(http, "/api/search", {"q": "refund", "limit": 20}, n)
            phrase = await _timed(http, "/api/search", {"q": PHRASE, "limit": 20}, n)
            listing = await _timed(http, "/api/sessions", {"q": RARE, "limit": 50}, n)
            dashboards = await store_dashboard.measure(http, pool, newest, 10 if ctx.quick else 20)
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
        await asyncio.to_thread(processes.stop, grace_s=20)
        if pool is not None:
            await pool.close()
        with contextlib.suppress(Exception):
            channel = await connection.channel()
            await topology.delete_all(channel)
        await connection.close()
        await drop_database(url)

    per_cpu_s = 1e6 / drain_cpu_us
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
            "AMQP receive+ack only, CPU per event",
            floor_cpu_us,
            "us",
            notes=(
                "baseline: the store's AMQP client alone (same prefetch, plain deliveries, one "
                f"multiple ack per batch), {floor['consumed']:,} events, its own process"
            ),
        ),
        Result(
            BENCH,
            "ingest, one event per message",
            single["rate"],
            "events/s",
            naive_rate,
            "naive INSERT",
            target=">= 5,000/s",
            met=single["rate"] >= 5000,
            notes=(
                f"one store process draining {single['drained']:,.0f} events published one per "
                f"message (quiet gateways); {1e6 / single['cpu_us']:,.0f} events per CPU-second, "
                f"{single['cpu_us']:.0f} us each; load average {single['load']:.1f}"
            ),
        ),
        Result(
            BENCH,
            "ingest, one store process",
            drain_rate,
            "events/s",
            single["rate"],
            "one event per message",
            target=">= 5,000/s",
            met=drain_rate >= 5000,
            notes=(
                f"{batched['drained']:,.0f} events drained from RabbitMQ with projections, "
                f"published as busy gateways send them ({GATEWAY_FLUSH} per flush, one message "
                f"per payload type: {batched['per_message']:.1f} events per message); load "
                f"average {load_at_start:.1f} at start, {batched['load']:.1f} at the drain, on "
                f"{os.cpu_count()} cores"
            ),
        ),
        Result(
            BENCH,
            "ingest per CPU-second of the store",
            per_cpu_s,
            "events/s",
            1e6 / floor_cpu_us,
            "AMQP only, 1 per message",
            target=">= 5,000/s",
            met=per_cpu_s >= 5000,
            notes="the drain rate (busy gateways) if the store process had a core to itself",
        ),
        Result(
            BENCH,
            "store CPU per event, draining",
            drain_cpu_us,
            "us",
            single["cpu_us"],
            "one event per message",
            notes=(
                "user+system CPU of the store process (all threads) while draining; the AMQP "
                f"client alone costs {floor_cpu_us:.0f} us per message"
            ),
        ),
        *_lag_results(lag, rate, seconds, "", drain_cpu_us),
        *_lag_results(quiet, rate, seconds, ", one event per message", drain_cpu_us),
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
        *(
            Result(
                BENCH,
                f"dashboard p95, {label}",
                percentile(times, 95),
                "ms",
                target=f"<= {store_dashboard.BUDGET_MS:,.0f} ms",
                met=percentile(times, 95) <= store_dashboard.BUDGET_MS,
                notes=(
                    f"/api/dashboard/charts (series + SVG), p50 {percentile(times, 50):.0f} ms, "
                    f"{len(times)} reads; {total_items:,} items, {items // 10:,} sessions with "
                    f"latencies, tool calls and usage (loaded in {dash_load_s:.1f} s); totals "
                    "checked against direct counts"
                ),
            )
            for label, times in dashboards.items()
        ),
    ]


def _lag_results(
    run: dict[str, Any], rate: int, seconds: int, label: str, drain_cpu_us: float
) -> list[Result]:
    """The rows of one steady-rate run (*label* tells the runs apart)."""
    per_message = run["published"] / run["messages"]
    shape = (
        "one event per message (quiet gateways)"
        if run["published"] == run["messages"]
        else f"{per_message:.1f} events each: what fell due every 5 ms, one message per type"
    )
    return [
        Result(
            BENCH,
            f"steady publish rate reached{label}",
            run["rate"],
            "events/s",
            notes=(
                f"asked {rate:,}/s for {seconds} s in {run['messages']:,} messages ({shape}); "
                f"publisher process without confirms, {run['cpu_s']:.1f} CPU-s, at most "
                f"{run['behind_max_s'] * 1000:.0f} ms behind schedule"
            ),
        ),
        Result(
            BENCH,
            f"end-to-end lag p99 (to commit){label}",
            run["commit_p99"] * 1000,
            "ms",
            target="<= 1,000 ms",
            met=run["commit_p99"] <= 1.0,
            notes=(
                f"histogram bucket bound: {run['within_1s']:.2%} of the events committed within "
                "1 s (the store's lag histogram, occurred_at -> after commit)"
            ),
        ),
        Result(
            BENCH,
            f"end-to-end lag p50 (to stored_at){label}",
            run["p50"],
            "ms",
            notes="occurred_at -> stored_at, the start of the transaction that stored it",
        ),
        Result(BENCH, f"end-to-end lag p99 (to stored_at){label}", run["p99"], "ms"),
        Result(
            BENCH,
            f"store CPU per event, steady rate{label}",
            run["cpu_us"],
            "us",
            drain_cpu_us,
            "draining",
            notes="smaller batches at a steady rate cost more per event",
        ),
    ]
