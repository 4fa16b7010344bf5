"""Session gateway with recording on and off: gateway CPU per streaming session, same run.

Two gateway processes in front of one echo upstream (:mod:`bench.gateway_load`, 25 deltas per
response item), identical but for ``GATEWAY_RECORDING``; the one recording writes into the
Postgres recording store of a database of its own (created, migrated and dropped here). The same
clients (pcm16 chunks of 40 ms each way at real-time pace) run against each in turn; each
gateway's CPU is sampled over the measured window only (after the warm-up, so no handshakes),
and the figure is CPU per session: the gateway's cores over the window divided by the sessions.
Off and on alternate (twice in a full run) and the sums are compared, so a drift of the machine's
load hits both. The target is recording on <= 1.15x off (issue 20). The load average of the
machine is printed beside it: the clients, the echo, both gateways, Postgres, Redis and RabbitMQ
share it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import asyncpg

from bench.bench_gateway import _clean, _clients, _Gateway, _load
from bench.bench_loadtest import _database_url
from bench.harness import BenchContext, Result, stack
from switchboard.cli.db import ensure_database, migrate
from switchboard.cli.stack import free_port

BENCH = "gateway-recording"
TARGET = 1.15


async def run(ctx: BenchContext) -> list[Result]:
    count, chunk_ms = (100, 40) if ctx.quick else (300, 40)
    warmup_s, measure_s = (3.0, 10.0) if ctx.quick else (5.0, 20.0)
    rounds = 1 if ctx.quick else 2
    namespace = f"{ctx.namespace}-gwrec"
    database = _database_url(ctx.database_url, f"bench_rec_{uuid.uuid4().hex[:8]}")
    await ensure_database(database)
    await migrate(database)
    echo_port = free_port()
    processes = stack()
    echo = _load(processes, "echo", "echo", str(echo_port), "response")
    gateways = {
        recording: _Gateway(
            processes,
            ctx,
            namespace,
            echo_port,
            name=f"gateway-recording-{recording}",
            env={
                "GATEWAY_ID": f"bench-gateway-recording-{recording}",
                "GATEWAY_RECORDING": recording,
                "RECORDING_DATABASE_URL": database,
            },
        )
        for recording in ("false", "true")
    }
    cpu = {"false": 0.0, "true": 0.0}
    window = {"false": 0.0, "true": 0.0}
    load = [os.getloadavg()[0]]
    try:
        await processes.start()
        for _ in range(rounds):
            for recording, gateway in gateways.items():
                urls, headers = await gateway.targets(count)
                pids = {"echo": echo.pid, "relay": gateway.service.pid}
                level = await _clients(urls, headers, chunk_ms, warmup_s, measure_s, pids)
                cpu[recording] += level.cpu_s["relay"]
                window[recording] += level.window_s
                load.append(os.getloadavg()[0])
                print(
                    f"  recording {recording}: {level.cores('relay'):.3f} cores for {count} "
                    f"sessions, p99 {level.p(99):.2f} ms, load {load[-1]:.1f}",
                    file=sys.stderr,
                )
        written = await _written(database)
    finally:
        await asyncio.to_thread(processes.stop, grace_s=30)
        await _clean(ctx, namespace)
        await _drop(ctx, database)
    per_session = {k: cpu[k] / window[k] / count * 1000 for k in cpu}  # ms of CPU per second
    ratio = per_session["true"] / per_session["false"]
    print(f"  recording on/off CPU per session: {ratio:.3f}x", file=sys.stderr)
    return [
        Result(
            BENCH,
            f"gateway CPU per session, recording on, {chunk_ms} ms chunks, {count} sessions",
            per_session["true"],
            "ms/s",
            per_session["false"],
            "recording off",
            target=f"<= {TARGET}x off",
            met=ratio <= TARGET,
            notes=f"{rounds} alternating round(s) of {measure_s:g} s each; {written}; "
            f"load average {min(load):.1f}-{max(load):.1f} on {os.cpu_count()} CPUs",
        )
    ]


async def _written(database: str) -> str:
    """What the recording gateway wrote (to show it did record)."""
    conn = await asyncpg.connect(database.replace("+asyncpg", "", 1))
    try:
        row = await conn.fetchrow(
            "SELECT count(*), coalesce(sum(size), 0) FROM audit.recording_object"
        )
    finally:
        await conn.close()
    assert row is not None
    return f"{row[0]} segments, {row[1] / 1e6:.1f} MB written"


async def _drop(ctx: BenchContext, database: str) -> None:
    name = database.rsplit("/", 1)[1]
    admin = await asyncpg.connect(
        _database_url(ctx.database_url, "postgres").replace("+asyncpg", "", 1)
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
