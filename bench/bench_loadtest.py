"""End to end under load: ``switchboard loadtest`` callers with real speech through the whole
product (emulator, tool worker, store, gateway as child processes started here, on a seeded
database and namespace of their own).

Baseline measured in the same run: one caller alone through the same stack, so the ratio shows
what concurrency costs. On a small machine the emulator's speech recognition (about one
real-time session per core, see docs/emulator.md) dominates: the figures describe the emulated
product, not GPT-4o's latency.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.harness import BenchContext, Result
from switchboard.cli.db import ensure_database, migrate, run_seed
from switchboard.cli.endpoint import Endpoint, gateway_endpoint
from switchboard.cli.loadtest import LoadReport, LoadTest, demo_callers
from switchboard.cli.product import start_product
from switchboard.cli.stack import Stack
from switchboard.settings import normalise_database_url

BENCH = "loadtest"
KEY = "bench-emulator-key"
SERVER_KEY = "bench-server-key"
AS_OF = date(2026, 11, 1)


def _database_url(base: str, name: str) -> str:
    parts = urlsplit(normalise_database_url(base))
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _drive(gateway: str, sessions: int, duration_s: float, ramp_s: float) -> LoadReport:
    async def endpoint_for(customer_id: str) -> Endpoint:
        return await gateway_endpoint(gateway, customer_id, server_key=SERVER_KEY)

    test = LoadTest(
        callers=demo_callers(sessions),
        endpoint_for=endpoint_for,
        duration_s=duration_s,
        ramp_s=ramp_s,
    )
    await test.prepare()
    return await test.run()


async def _drop(ctx: BenchContext, database_url: str) -> None:
    """Remove the benchmark's database, queues and exchanges."""
    import aio_pika
    import asyncpg

    from switchboard.amqp import Topology
    from switchboard.worker.tools import ALL_TOOLS

    connection = await aio_pika.connect(ctx.amqp_url)
    try:
        await Topology(f"{ctx.namespace}-lt").delete_all(
            await connection.channel(), tools=tuple(t.name for t in ALL_TOOLS)
        )
    finally:
        await connection.close()
    name = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(
        _database_url(ctx.database_url, "postgres").replace("+asyncpg", "", 1)
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def run(ctx: BenchContext) -> list[Result]:
    sessions = 6 if ctx.quick else 12
    duration = 25.0 if ctx.quick else 60.0
    database_url = _database_url(ctx.database_url, f"bench_loadtest_{uuid.uuid4().hex[:8]}")
    await ensure_database(database_url)
    await migrate(database_url)
    await run_seed(database_url, as_of=AS_OF)
    logs = Path(tempfile.mkdtemp(prefix="bench-loadtest-"))
    stack = Stack(
        base_env={
            "DATABASE_URL": database_url,
            "AMQP_URL": ctx.amqp_url,
            "REDIS_URL": ctx.redis_url,
            "SWITCHBOARD_NAMESPACE": f"{ctx.namespace}-lt",
            "SWITCHBOARD_ENV": "development",
            "LOG_LEVEL": "INFO",
            # the load generator is one address; the per-customer limit does not apply to it
        },
        log_dir=logs,
    )
    try:
        urls = await start_product(
            stack, emulator_key=KEY, server_key=SERVER_KEY, worker_today=AS_OF.isoformat()
        )
        alone = await _drive(urls.gateway, 1, 20.0 if ctx.quick else 40.0, 0.0)
        loaded = await _drive(urls.gateway, sessions, duration, duration / 4)
    finally:
        stack.stop()
        await _drop(ctx, database_url)
    a, b = alone.as_dict(), loaded.as_dict()
    failed = loaded.calls_failed + loaded.turns_without_reply
    tools = sum(loaded.tool_calls.values())
    tool_failures = sum(loaded.tool_failures.values())
    note = f"{sessions} callers, {duration:.0f} s, ramp {duration / 4:.0f} s; logs in {logs}"
    return [
        Result(BENCH, "reply latency p50, 1 caller", a["latency_ms"]["p50"] or float("nan"), "ms",
               notes="end of speech → first reply audio, incl. 500 ms VAD silence and a tool call"),
        Result(BENCH, f"reply latency p50, {sessions} callers", b["latency_ms"]["p50"] or float("nan"),
               "ms", a["latency_ms"]["p50"], "1 caller", notes=note),
        Result(BENCH, f"reply latency p95, {sessions} callers", b["latency_ms"]["p95"] or float("nan"),
               "ms", a["latency_ms"]["p95"], "1 caller", target="<= 2x one caller",
               met=bool(b["latency_ms"]["p95"] and a["latency_ms"]["p95"]
                        and b["latency_ms"]["p95"] <= 2 * a["latency_ms"]["p95"])),
        Result(BENCH, f"calls completed, {sessions} callers", float(loaded.calls_completed), "calls",
               notes=f"{loaded.turns} turns"),
        Result(BENCH, "failed calls + unanswered turns", float(failed), "count", target="0",
               met=failed == 0, notes=", ".join(f"{k} {v}" for k, v in loaded.errors.items()) or "no errors"),
        Result(BENCH, "tool calls (failed)", float(tools), "calls", target="0 failed",
               met=tool_failures == 0,
               notes=", ".join(f"{k} {v}" for k, v in loaded.tool_failures.items()) or "none failed"),
    ]  # fmt: skip
